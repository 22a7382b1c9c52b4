package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
)

// report is the whole comparison, as written to the JSON file.
type report struct {
	Started   string           `json:"started"`
	Finished  string           `json:"finished"`
	Machine   string           `json:"machine"`
	LoadFrom  string           `json:"load_at_start"` // uptime's load average
	LoadTo    string           `json:"load_at_end"`
	Rounds    int              `json:"rounds"`
	Window    string           `json:"window"`
	Warmup    string           `json:"warmup"`
	Pinned    bool             `json:"pinned"` // server on CPU 1, bench on CPU 0
	Scenarios []scenarioResult `json:"scenarios"`
}

// scenarioResult is every run of one scenario and what they say.
type scenarioResult struct {
	Name    string          `json:"name"`
	Metric  string          `json:"metric"`
	Args    []string        `json:"bench_args"`
	Runs    []outcome       `json:"runs"`
	Servers []serverSummary `json:"servers"`
	metric  metric
}

// serverSummary is one server's figures in one scenario: medians over
// the rounds, and the ratio to each baseline in each round (the same
// round ran both, minutes apart at most).
type serverSummary struct {
	Server string    `json:"server"`
	Values []float64 `json:"values"` // per round
	Median float64   `json:"median"`
	Rate   float64   `json:"rate_median"`
	P99us  float64   `json:"p99_us_median"`
	CPU    float64   `json:"server_cpu_pct_median"`
	// KernelShare is the median of the rounds' kernel shares; nil when
	// no round had one.
	KernelShare *float64  `json:"kernel_share_median,omitempty"`
	Load        float64   `json:"bench_cpu_pct_median"`
	VsGWS       []float64 `json:"vs_gws"`
	VsGobwas    []float64 `json:"vs_gobwas_frames"`
	Errors      []string  `json:"errors,omitempty"`
}

// summarise fills in Servers from Runs.
func (s *scenarioResult) summarise(srvs []server, m metric) {
	s.metric = m
	byRound := func(name string) map[int]outcome {
		out := make(map[int]outcome)
		for _, o := range s.Runs {
			if o.Server == name && o.Err == "" {
				out[o.Round] = o
			}
		}
		return out
	}
	gws, gobwas := byRound(baseGWS), byRound(baseGobwas)
	for _, srv := range srvs {
		sum := serverSummary{Server: srv.name}
		var rates, p99s, cpus, loads, kernelShares []float64
		ran := false
		for _, o := range s.Runs {
			if o.Server != srv.name {
				continue
			}
			ran = true
			if o.Err != "" {
				sum.Errors = append(sum.Errors, o.Err)
				continue
			}
			sum.Values = append(sum.Values, o.Value)
			rates, p99s = append(rates, o.Rate), append(p99s, o.P99us)
			cpus, loads = append(cpus, o.CPU), append(loads, o.Load)
			if o.KernelShare != nil {
				kernelShares = append(kernelShares, *o.KernelShare)
			}
			if b, ok := gws[o.Round]; ok && b.Value > 0 {
				sum.VsGWS = append(sum.VsGWS, o.Value/b.Value)
			}
			if b, ok := gobwas[o.Round]; ok && b.Value > 0 {
				sum.VsGobwas = append(sum.VsGobwas, o.Value/b.Value)
			}
		}
		if !ran {
			continue
		}
		sum.Median, sum.Rate, sum.P99us = median(sum.Values), median(rates), median(p99s)
		sum.CPU, sum.Load = median(cpus), median(loads)
		if len(kernelShares) > 0 {
			share := median(kernelShares)
			sum.KernelShare = &share
		}
		s.Servers = append(s.Servers, sum)
	}
}

// median returns the median of v, 0 for none.
func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// markdown prints the summary matrix, then one table per scenario.
func (r *report) markdown(w io.Writer, srvs []server) {
	fmt.Fprintf(w, "# sluice bench compare\n\n")
	fmt.Fprintf(w, "- started %s, finished %s\n- machine: %s\n", r.Started, r.Finished, r.Machine)
	fmt.Fprintf(w, "- load average (uptime) at start: %s; at end: %s\n", r.LoadFrom, r.LoadTo)
	pin := "server on CPU 1, sluice bench on CPU 0 (taskset)"
	if !r.Pinned {
		pin = "not pinned (no taskset or one core)"
	}
	fmt.Fprintf(w, "- %d rounds per scenario, order rotated each round; %s window after %s warm-up; %s\n\n", r.Rounds, r.Window, r.Warmup, pin)

	fmt.Fprintf(w, "## Medians\n\nMessages (storm: handshakes) per server CPU-second; idle: server RSS per connection in KiB.\n\n")
	fmt.Fprintf(w, "| scenario |")
	for _, s := range srvs {
		fmt.Fprintf(w, " %s |", s.name)
	}
	fmt.Fprintf(w, "\n|---|%s\n", strings.Repeat("---:|", len(srvs)))
	for _, sc := range r.Scenarios {
		fmt.Fprintf(w, "| %s |", sc.Name)
		for _, s := range srvs {
			fmt.Fprintf(w, " %s |", sc.cell(s.name))
		}
		fmt.Fprintln(w)
	}

	fmt.Fprintf(w, "\n## Ratios\n\nMedian of the per-round ratios (idle: lower is better).\n\n")
	fmt.Fprintf(w, "| scenario | sluice-conn / gws | sluice-handler / gws | sluice-frames / gobwas-frames | sluice-helpers / gobwas-helpers | sluice-poll / sluice-handler | sluice-poll / nbio |\n|---|---:|---:|---:|---:|---:|---:|\n")
	for _, sc := range r.Scenarios {
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s |\n", sc.Name,
			sc.ratio("sluice-conn", baseGWS), sc.ratio("sluice-handler", baseGWS),
			sc.ratio("sluice-frames", baseGobwas), sc.ratio("sluice-helpers", "gobwas-helpers"),
			sc.ratio("sluice-poll", "sluice-handler"), sc.ratio("sluice-poll", "nbio"))
	}
	r.kernelCeilings(w)

	for _, sc := range r.Scenarios {
		fmt.Fprintf(w, "\n### %s: %s\n\n`sluice bench %s`\n\n", sc.Name, sc.Metric, strings.Join(sc.Args, " "))
		fmt.Fprintf(w, "| server | median | per round | rate/s | p99 | server CPU | kernel | bench CPU | vs gws, per round | vs gobwas-frames, per round |\n")
		fmt.Fprintf(w, "|---|---:|---|---:|---:|---:|---:|---:|---|---|\n")
		for _, s := range sc.Servers {
			if len(s.Values) == 0 {
				fmt.Fprintf(w, "| %s | error | %s | | | | | | | |\n", s.Server, escape(first(s.Errors)))
				continue
			}
			rate, p99 := "", ""
			if sc.metric != rssPerConn {
				rate, p99 = formatCount(s.Rate), formatMicros(s.P99us)
			}
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %.0f%% | %s | %.0f%% | %s | %s |\n", s.Server,
				formatValue(sc.metric, s.Median), joinValues(sc.metric, s.Values), rate, p99, s.CPU,
				formatShare(s.KernelShare), s.Load, joinRatios(s.VsGWS), joinRatios(s.VsGobwas))
		}
	}
}

// kernelCeilings prints, for each throughput scenario, the median kernel
// share of each baseline and the ceiling it sets: 1/share is the most a
// server with the same kernel work per message and no user-space cost
// could do, in times the baseline's messages per CPU-second. Idle and
// storm scenarios measure something else and are left out.
func (r *report) kernelCeilings(w io.Writer) {
	fmt.Fprintf(w, "\n## Kernel share and ceilings\n\n"+
		"Median part of the baseline's CPU time spent in the kernel, and the ceiling 1/share: "+
		"a server with the same kernel work per message and no user-space cost would do at most "+
		"this many times the baseline's messages per CPU-second.\n\n")
	fmt.Fprintf(w, "| scenario | %[1]s kernel | %[1]s ceiling | %[2]s kernel | %[2]s ceiling |\n|---|---:|---:|---:|---:|\n",
		baseGWS, baseGobwas)
	for _, sc := range r.Scenarios {
		if sc.metric != msgsPerCPU {
			continue
		}
		gws, gobwas := sc.kernelShare(baseGWS), sc.kernelShare(baseGobwas)
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", sc.Name,
			formatShare(gws), formatCeiling(gws), formatShare(gobwas), formatCeiling(gobwas))
	}
}

// kernelShare is a server's median kernel share in the scenario, nil
// when it did not run or no round told.
func (s *scenarioResult) kernelShare(name string) *float64 {
	for _, sum := range s.Servers {
		if sum.Server == name {
			return sum.KernelShare
		}
	}
	return nil
}

// cell is a server's median in the summary matrix.
func (s *scenarioResult) cell(name string) string {
	for _, sum := range s.Servers {
		if sum.Server != name {
			continue
		}
		if len(sum.Values) == 0 {
			return "error"
		}
		return formatValue(s.metric, sum.Median)
	}
	return "—"
}

// ratio is the median per-round ratio of a to b.
func (s *scenarioResult) ratio(a, b string) string {
	byRound := make(map[int]float64)
	for _, o := range s.Runs {
		if o.Server == b && o.Err == "" && o.Value > 0 {
			byRound[o.Round] = o.Value
		}
	}
	var r []float64
	for _, o := range s.Runs {
		if v, ok := byRound[o.Round]; ok && o.Server == a && o.Err == "" {
			r = append(r, o.Value/v)
		}
	}
	if len(r) == 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f", median(r))
}

func (r *report) writeJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// formatValue prints a metric's value.
func formatValue(m metric, v float64) string {
	if m == rssPerConn {
		return fmt.Sprintf("%.1f", v)
	}
	return formatCount(v)
}

// formatCount prints a count with three significant digits. It rounds
// before it picks the unit: 999,600 is 1M, not 1e+03k.
func formatCount(v float64) string {
	r, _ := strconv.ParseFloat(fmt.Sprintf("%.3g", v), 64)
	switch {
	case r >= 1e6:
		return fmt.Sprintf("%.3gM", r/1e6)
	case r >= 1e3:
		return fmt.Sprintf("%.3gk", r/1e3)
	}
	return fmt.Sprintf("%.3g", r)
}

// formatShare prints a kernel share as a percentage, "—" when unknown.
func formatShare(share *float64) string {
	if share == nil {
		return "—"
	}
	return fmt.Sprintf("%.0f%%", 100**share)
}

// formatCeiling prints 1/share, the ceiling a kernel share sets on the
// ratio to its server; "—" when the share is unknown, "∞" when it is 0.
func formatCeiling(share *float64) string {
	switch {
	case share == nil:
		return "—"
	case *share <= 0:
		return "∞"
	}
	return fmt.Sprintf("%.2f", 1 / *share)
}

func formatMicros(us float64) string {
	if us >= 1000 {
		return fmt.Sprintf("%.1fms", us/1000)
	}
	return fmt.Sprintf("%.0fµs", us)
}

func joinValues(m metric, v []float64) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = formatValue(m, x)
	}
	return strings.Join(s, " ")
}

func joinRatios(v []float64) string {
	if len(v) == 0 {
		return ""
	}
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = fmt.Sprintf("%.2f", x)
	}
	return fmt.Sprintf("**%.2f** (%s)", median(v), strings.Join(s, " "))
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

// escape keeps an error message from breaking a markdown table.
func escape(s string) string {
	s = strings.ReplaceAll(s, "|", "/")
	if len(s) > 120 {
		s = s[:120] + "…"
	}
	return s
}

// loadAverage returns uptime's load averages ("0.52, 0.61, 0.70").
func loadAverage() string {
	out, err := exec.Command("uptime").Output()
	if err != nil {
		return "unknown"
	}
	s := strings.TrimSpace(string(out))
	if i := strings.Index(s, "load average"); i >= 0 {
		_, after, _ := strings.Cut(s[i:], ":")
		return strings.TrimSpace(after)
	}
	return s
}

// machine describes the CPU and the Go version.
func machine() string {
	model := runtime.GOARCH
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if name, ok := strings.CutPrefix(sc.Text(), "model name"); ok {
				model = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(name), ":"))
				break
			}
		}
	}
	return fmt.Sprintf("%s, %d CPUs, %s", model, runtime.NumCPU(), runtime.Version())
}
