package cli

import (
	"context"
	"log/slog"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// The Go runtime keeps the memory it has freed, and returns it to the
// operating system only when it holds more than the heap will need before
// the next collection (by default twice what is live). A server that has
// just accepted a burst of connections holds, besides the connections,
// everything the handshakes left behind: net/http's request and its two
// 4 KiB buffers for each, which Hijack hands over and never takes back,
// and the stacks its reading goroutines grew and gave up. Nothing in a
// quiet server allocates, so nothing collects that garbage, and the
// runtime keeps the pages it had (docs/memory.md measures it: twice the
// RSS per idle connection). returnIdleMemory gives it back once the
// server is quiet.
const (
	// trimEvery is how often returnIdleMemory looks: often enough to
	// return a burst's memory within a second of its end.
	trimEvery = 250 * time.Millisecond
	// trimQuiet: the server is quiet when it allocated less than
	// 1/trimQuiet of what it holds (heap and stacks) since the last look.
	trimQuiet = 128
	// trimWorth: memory is worth returning when the runtime keeps more
	// than 1/trimWorth of what is in use, and at least trimMin bytes.
	trimWorth = 32
	trimMin   = 2 << 20
)

// minStack is the stack a goroutine starts with. Stack bytes beyond that
// many per goroutine belong to goroutines that have exited, whose stacks
// the runtime keeps until the next collection, or to goroutines whose
// stacks have grown.
const minStack = 2 << 10

// memoryState is what the runtime reports, in bytes.
type memoryState struct {
	allocated  uint64 // allocated since the last look
	sinceTrim  uint64 // allocated since the last return
	objects    uint64 // heap objects, garbage not yet collected included
	stacks     uint64 // goroutine stacks, exited goroutines' included
	free       uint64 // free heap memory the runtime keeps
	live       uint64 // the live heap the last collection found
	goroutines uint64 // goroutines (a count)
}

// split estimates what a collection and returning free memory would give
// back (kept), and what stays in use. Of the stack bytes beyond the
// minimum per goroutine, those over spareFloor count as kept: exited
// goroutines' stacks, which a collection frees; the floor is what the last
// return could not give back, the grown stacks of goroutines still
// running. The last collection's live heap is less than what lives now
// when connections were added since, so the garbage estimate errs towards
// more, which costs at worst one collection the server had time for.
//
// Garbage counts only once the process has allocated half of what is in
// use since the last return: a server that allocates steadily, if slowly,
// would otherwise collect every few seconds, where the runtime collects
// once it has allocated as much as is live.
func (m memoryState) split(spareFloor uint64) (kept, inUse uint64) {
	garbage := m.objects - min(m.objects, m.live)
	if inUse := m.objects - garbage + m.stacks; m.sinceTrim < inUse/2 {
		garbage = 0
	}
	spare := m.spareStacks()
	spare -= min(spare, spareFloor)
	return m.free + garbage + spare, m.objects - garbage + m.stacks - spare
}

// spareStacks is the stack memory beyond the minimum per goroutine.
func (m memoryState) spareStacks() uint64 {
	return m.stacks - min(m.stacks, m.goroutines*minStack)
}

// trimDue says whether to return memory now: the process allocated little
// since the last look, and keeps much more than it uses.
func trimDue(m memoryState, spareFloor uint64) bool {
	kept, inUse := m.split(spareFloor)
	return m.allocated <= inUse/trimQuiet && kept >= max(trimMin, inUse/trimWorth)
}

// memoryTrim samples the runtime metrics returnIdleMemory decides on.
type memoryTrim struct {
	samples []metrics.Sample
	allocs  uint64 // /gc/heap/allocs:bytes at the last look
	trimmed uint64 // /gc/heap/allocs:bytes at the last return
	// spareFloor is the spare stack memory right after the last return,
	// or less if it has shrunk since: grown stacks of running goroutines.
	spareFloor uint64
}

func newMemoryTrim() *memoryTrim {
	return &memoryTrim{samples: []metrics.Sample{
		{Name: "/gc/heap/allocs:bytes"},
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/memory/classes/heap/stacks:bytes"},
		{Name: "/memory/classes/heap/free:bytes"},
		{Name: "/gc/heap/live:bytes"},
		{Name: "/sched/goroutines:goroutines"},
	}}
}

// read samples the runtime; ok is false if a metric is missing.
func (t *memoryTrim) read() (m memoryState, ok bool) {
	metrics.Read(t.samples)
	var v [6]uint64
	for i, s := range t.samples {
		if s.Value.Kind() != metrics.KindUint64 {
			return m, false
		}
		v[i] = s.Value.Uint64()
	}
	m = memoryState{allocated: v[0] - t.allocs, sinceTrim: v[0] - t.trimmed,
		objects: v[1], stacks: v[2], free: v[3], live: v[4], goroutines: v[5]}
	t.allocs = v[0]
	return m, true
}

// due reads the metrics and says whether memory should be returned now.
func (t *memoryTrim) due() bool {
	m, ok := t.read()
	if !ok {
		return false
	}
	t.spareFloor = min(t.spareFloor, m.spareStacks())
	return trimDue(m, t.spareFloor)
}

// returned records what is kept right after a return.
func (t *memoryTrim) returned() {
	if m, ok := t.read(); ok {
		t.spareFloor = m.spareStacks()
		t.trimmed = t.allocs
	}
}

// startReturningIdleMemory runs returnIdleMemory until the function it
// returns is called, which waits for it to stop.
func startReturningIdleMemory(ctx context.Context, log *slog.Logger) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		returnIdleMemory(ctx, log)
	}()
	return func() {
		cancel()
		<-done
	}
}

// returnIdleMemory collects garbage twice and returns the freed memory to
// the operating system (debug.FreeOSMemory) whenever the server is quiet
// and the runtime keeps much more memory than is in use: after a burst of
// connections, once their reading goroutines have handed their grown
// stacks over, and after a keepalive round. Each return costs two
// collections of the live heap (about 0.1 s of CPU at 10,000 idle
// connections). It returns when ctx is done. A busy server never
// qualifies: it allocates, and the collector runs anyway.
func returnIdleMemory(ctx context.Context, log *slog.Logger) {
	t := newMemoryTrim()
	t.returned() // the start is the first floor
	tick := time.NewTicker(trimEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if t.due() {
			start := time.Now()
			// Two collections: what sync.Pools hold (read buffers,
			// Readers) survives the first.
			runtime.GC()
			debug.FreeOSMemory()
			t.returned()
			log.Debug("returned idle memory", "took", time.Since(start))
		}
	}
}
