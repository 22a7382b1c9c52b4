package main

import (
	"strings"
	"testing"
)

// share returns a kernel share as the pointer outcome holds.
func share(v float64) *float64 { return &v }

// TestKernelCeilings builds a report with known kernel shares and checks
// the medians and ceilings the markdown shows for them.
func TestKernelCeilings(t *testing.T) {
	srvs := []server{{name: "sluice-conn"}, {name: baseGWS}, {name: baseGobwas}}
	throughput := scenarioResult{Name: "C=1 16B d1", Runs: []outcome{
		{Server: baseGWS, Round: 1, Value: 100, KernelShare: share(0.7)},
		{Server: baseGWS, Round: 2, Value: 100, KernelShare: share(0.9)},
		{Server: baseGWS, Round: 3, Value: 100, KernelShare: share(0.8)},
		{Server: baseGobwas, Round: 1, Value: 100, KernelShare: share(0.5)},
		{Server: baseGobwas, Round: 2, Value: 100}, // no share: left out of the median
		{Server: "sluice-conn", Round: 1, Value: 110, KernelShare: share(0.85)},
	}}
	throughput.summarise(srvs, msgsPerCPU)
	compressed := scenarioResult{Name: "C=100 1KiB JSON compressed d16", Runs: []outcome{
		{Server: baseGWS, Round: 1, Value: 100, KernelShare: share(0.4)},
	}}
	compressed.summarise(srvs, msgsPerCPU)
	idle := scenarioResult{Name: "idle 10 conns", Runs: []outcome{
		{Server: baseGWS, Round: 1, Value: 5, KernelShare: share(0.9)},
	}}
	idle.summarise(srvs, rssPerConn)
	r := &report{Scenarios: []scenarioResult{throughput, compressed, idle}}

	var out strings.Builder
	r.markdown(&out, srvs)
	md := out.String()
	_, ceilings, ok := strings.Cut(md, "## Kernel share and ceilings")
	if !ok {
		t.Fatalf("no kernel share table in\n%s", md)
	}
	ceilings, _, _ = strings.Cut(ceilings, "\n### ")
	for _, row := range []string{
		"| C=1 16B d1 | 80% | 1.25 | 50% | 2.00 |",
		"| C=100 1KiB JSON compressed d16 | 40% | 2.50 | — | — |",
	} {
		if !strings.Contains(ceilings, row+"\n") {
			t.Errorf("kernel share table lacks %q:\n%s", row, ceilings)
		}
	}
	if strings.Contains(ceilings, "idle") {
		t.Errorf("kernel share table lists the idle scenario:\n%s", ceilings)
	}
	// The scenario's own table has the kernel column for every server.
	if !strings.Contains(md, "| server CPU | kernel | bench CPU |") {
		t.Errorf("per-round table lacks the kernel column:\n%s", md)
	}
	if !strings.Contains(md, "| 0% | 85% | 0% |") {
		t.Errorf("sluice-conn's row lacks its kernel share:\n%s", md)
	}
}

// TestFormatCeiling checks the ceiling of each kind of share.
func TestFormatCeiling(t *testing.T) {
	for _, tc := range []struct {
		share *float64
		want  string
	}{
		{share(0.8), "1.25"},
		{share(1), "1.00"},
		{share(0), "∞"},
		{nil, "—"},
	} {
		if got := formatCeiling(tc.share); got != tc.want {
			t.Errorf("formatCeiling(%v) = %q, want %q", tc.share, got, tc.want)
		}
	}
}

func TestFormatCount(t *testing.T) {
	for v, want := range map[float64]string{
		12.34:     "12.3",
		999.6:     "1k",
		14_350:    "14.4k",
		999_600:   "1M",
		1_004_000: "1M",
		1_470_000: "1.47M",
	} {
		if got := formatCount(v); got != want {
			t.Errorf("formatCount(%v) = %q, want %q", v, got, want)
		}
	}
}
