package main

import (
	"context"
	"log/slog"
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
	// trimEvery is how often returnIdleMemory looks.
	trimEvery = 500 * time.Millisecond
	// trimQuiet: the server is quiet when it allocated less than
	// 1/trimQuiet of what it holds (heap and stacks) since the last look.
	trimQuiet = 64
	// trimWorth: memory is worth returning when the runtime keeps more
	// than 1/trimWorth of what is in use, and at least trimMin bytes.
	trimWorth = 8
	trimMin   = 4 << 20
)

// memoryTrim samples the runtime metrics returnIdleMemory decides on.
type memoryTrim struct {
	samples []metrics.Sample
	allocs  uint64 // /gc/heap/allocs:bytes at the last look
}

func newMemoryTrim() *memoryTrim {
	return &memoryTrim{samples: []metrics.Sample{
		{Name: "/gc/heap/allocs:bytes"},
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/memory/classes/heap/stacks:bytes"},
		{Name: "/memory/classes/heap/free:bytes"},
		{Name: "/gc/heap/live:bytes"},
	}}
}

// due reads the metrics and says whether memory should be returned now:
// the process allocated little since the last look, and keeps much more
// than it uses.
func (t *memoryTrim) due() bool {
	metrics.Read(t.samples)
	var v [5]uint64
	for i, s := range t.samples {
		if s.Value.Kind() != metrics.KindUint64 {
			return false
		}
		v[i] = s.Value.Uint64()
	}
	allocs := v[0]
	allocated := allocs - t.allocs
	t.allocs = allocs
	return trimDue(allocated, v[1], v[2], v[3], v[4])
}

// trimDue decides from what the runtime reports: bytes allocated since
// the last look, the heap's objects (garbage not yet collected included),
// goroutine stacks, free heap memory the runtime keeps, and the live heap
// the last collection found.
func trimDue(allocated, objects, stacks, free, live uint64) bool {
	// live is less than what lives now when connections were added since
	// the last collection: the estimate errs towards more garbage, which
	// costs at worst one collection the server had time for.
	garbage := objects - min(objects, live)
	inUse := objects - garbage + stacks
	kept := free + garbage
	return allocated <= inUse/trimQuiet && kept >= trimMin && kept >= inUse/trimWorth
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

// returnIdleMemory collects garbage and returns the freed memory to the
// operating system (debug.FreeOSMemory) whenever the server is quiet and
// the runtime keeps much more memory than is in use: after a burst of
// connections, or after keepalive's pings have made every idle connection
// hand its reading goroutine over. It returns when ctx is done. A busy
// server never qualifies: it allocates, and the collector runs anyway.
func returnIdleMemory(ctx context.Context, log *slog.Logger) {
	t := newMemoryTrim()
	t.due()
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
			debug.FreeOSMemory()
			log.Debug("returned idle memory", "took", time.Since(start))
			t.due() // the collection's own allocations do not count
		}
	}
}
