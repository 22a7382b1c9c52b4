package cli

import "testing"

func TestTrimDue(t *testing.T) {
	const mib = 1 << 20
	// 10,000 idle connections: 27 MiB live, 20 MiB of stacks.
	idle := memoryState{objects: 27 * mib, stacks: 20 * mib, live: 27 * mib, goroutines: 10000}
	with := func(f func(m *memoryState)) memoryState {
		m := idle
		f(&m)
		return m
	}
	for _, tc := range []struct {
		name  string
		m     memoryState
		floor uint64
		want  bool
	}{
		{"right after a burst", with(func(m *memoryState) { m.objects, m.free, m.sinceTrim = 40*mib, 12*mib, 200*mib }), 0, true},
		{"garbage of a burst", with(func(m *memoryState) { m.objects, m.sinceTrim = 40*mib, 200*mib }), 0, true},
		// A server that allocates slowly and steadily: its garbage
		// waits until it has allocated half the heap since the last
		// return, or for the runtime's own collection.
		{"a trickle of garbage", with(func(m *memoryState) { m.objects, m.sinceTrim = 40*mib, 5*mib }), 0, false},
		{"a trickle, long enough", with(func(m *memoryState) { m.objects, m.sinceTrim = 40*mib, 30*mib }), 0, true},
		{"still busy", with(func(m *memoryState) { m.objects, m.free, m.allocated = 40*mib, 12*mib, 2*mib }), 0, false},
		{"already returned", idle, 0, false},
		{"grown stacks given up", with(func(m *memoryState) { m.free = 8 * mib }), 0, true},
		{"exited goroutines' stacks", with(func(m *memoryState) { m.stacks = 40 * mib }), 0, true},
		{"grown stacks still in use", with(func(m *memoryState) { m.stacks = 40 * mib }), 20 * mib, false},
		{"grown stacks given up since", with(func(m *memoryState) { m.stacks, m.free = 30*mib, 10*mib }), 20 * mib, true},
		{"a little kept", with(func(m *memoryState) { m.free = mib }), 0, false},
		{"a small server", memoryState{objects: 2 * mib, stacks: 32 << 10, free: mib / 2, live: mib, goroutines: 10}, 0, false},
		{"live grew past the last count", with(func(m *memoryState) { m.objects, m.live = 40*mib, 50*mib }), 0, false},
	} {
		if got := trimDue(tc.m, tc.floor); got != tc.want {
			kept, inUse := tc.m.split(tc.floor)
			t.Errorf("%s: trimDue = %v, want %v (kept %d MiB, in use %d MiB)", tc.name, got, tc.want, kept/mib, inUse/mib)
		}
	}
}

func TestMemoryTrimReads(t *testing.T) {
	// Every metric it asks for exists in this runtime: a renamed one
	// would silently turn the trim off.
	tr := newMemoryTrim()
	if _, ok := tr.read(); !ok {
		for _, s := range tr.samples {
			t.Logf("%s: kind %v", s.Name, s.Value.Kind())
		}
		t.Error("a runtime metric is not supported")
	}
}
