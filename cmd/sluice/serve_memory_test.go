package main

import "testing"

func TestTrimDue(t *testing.T) {
	const mib = 1 << 20
	for _, tc := range []struct {
		name                                   string
		allocated, objects, stacks, free, live uint64
		want                                   bool
	}{
		// 10,000 idle connections right after they opened: 27 MiB
		// live, 20 MiB of stacks, and as much garbage and free memory.
		{"after a burst", 0, 40 * mib, 20 * mib, 12 * mib, 27 * mib, true},
		{"still busy", 2 * mib, 40 * mib, 20 * mib, 12 * mib, 27 * mib, false},
		{"already returned", 0, 27 * mib, 20 * mib, 0, 27 * mib, false},
		{"stacks given up", 0, 27 * mib, 20 * mib, 8 * mib, 27 * mib, true},
		{"a small server", 0, 3 * mib, 1 * mib, 1 * mib, 1 * mib, false},
		{"a little kept", 0, 60 * mib, 20 * mib, 4 * mib, 60 * mib, false},
		{"live grew past the last count", 0, 40 * mib, 20 * mib, 0, 50 * mib, false},
	} {
		if got := trimDue(tc.allocated, tc.objects, tc.stacks, tc.free, tc.live); got != tc.want {
			t.Errorf("%s: trimDue = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestMemoryTrimReads(t *testing.T) {
	// Every metric it asks for exists in this runtime: a renamed one
	// would silently turn the trim off.
	tr := newMemoryTrim()
	tr.due()
	for _, s := range tr.samples {
		if s.Value.Kind() == 0 {
			t.Errorf("runtime metric %s is not supported", s.Name)
		}
	}
}
