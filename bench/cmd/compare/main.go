// Command compare runs the side-by-side benchmark: every echo server of
// servers/ under sluice bench, scenario by scenario, in alternating
// rounds with the order rotated, the server pinned to one core and the
// load to the other. It prints markdown tables to stdout and writes every
// number to a JSON file. The figure it compares is per server
// CPU-second (or, for idle connections, RSS per connection): it holds on
// a shared machine where wall-clock rates do not.
//
// Run it from the bench module's directory (make compare does):
//
//	go run ./cmd/compare [-quick] [-rounds N] [-scenarios REGEXP] [-servers a,b]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"time"
)

func main() {
	quick := flag.Bool("quick", false, "short rounds: 2 rounds of a 1 s window after 0.3 s of warm-up")
	rounds := flag.Int("rounds", 0, "rounds per scenario (default 3, 2 with -quick)")
	duration := flag.Duration("duration", 0, "measured window of a run (default 3s, 1s with -quick)")
	warmup := flag.Duration("warmup", 0, "warm-up of a run (default 1s, 300ms with -quick)")
	idle := flag.Int("idle", 10000, "connections of the idle scenario")
	only := flag.String("scenarios", "", "run only the scenarios whose name matches this `regexp`")
	pick := flag.String("servers", "", "comma-separated `list` of servers (default: all)")
	outFile := flag.String("out", "out/compare.json", "JSON `file` for every number")
	bin := flag.String("bin", "out/bin", "`directory` for the binaries")
	root := flag.String("root", "..", "`directory` of the sluice module")
	flag.Parse()

	cfg := config{rounds: 3, duration: 3 * time.Second, warmup: time.Second, settle: 5 * time.Second}
	if *quick {
		cfg = config{rounds: 2, duration: time.Second, warmup: 300 * time.Millisecond, settle: 3 * time.Second}
	}
	if *rounds > 0 {
		cfg.rounds = *rounds
	}
	if *duration > 0 {
		cfg.duration = *duration
	}
	if *warmup > 0 {
		cfg.warmup = *warmup
	}
	list := scenarios(*idle)
	if *only != "" {
		rx, err := regexp.Compile(*only)
		if err != nil {
			fatal(err)
		}
		list = slices.DeleteFunc(list, func(s scenario) bool { return !rx.MatchString(s.name) })
	}
	srvs := servers
	if *pick != "" {
		names := strings.Split(*pick, ",")
		srvs = slices.DeleteFunc(slices.Clone(servers), func(s server) bool { return !slices.Contains(names, s.name) })
	}
	if len(list) == 0 || len(srvs) == 0 {
		fatal(fmt.Errorf("no scenario or no server selected"))
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fmt.Fprintln(os.Stderr, "compare: building the servers and sluice")
	if err := build(ctx, *bin, *root); err != nil {
		fatal(err)
	}
	r := &runner{
		bin:       *bin,
		pin:       canPin(),
		serverCPU: "1",
		benchCPU:  "0",
		benchFlags: []string{"-warmup", cfg.warmup.String(), "-duration", cfg.duration.String(),
			"-settle", cfg.settle.String()},
		// A run lasts warm-up + window, idle runs their opening and
		// settling; anything far past that is stuck.
		timeout: cfg.warmup + cfg.duration + cfg.settle + 2*time.Minute,
	}
	if !r.pin {
		fmt.Fprintln(os.Stderr, "compare: taskset or a second core is missing: servers and load share the CPUs")
	}
	runs := len(list) * len(srvs) * cfg.rounds
	per := cfg.warmup + cfg.duration + 500*time.Millisecond
	fmt.Fprintf(os.Stderr, "compare: %d scenarios × %d servers × %d rounds = %d runs, about %v\n",
		len(list), len(srvs), cfg.rounds, runs, (time.Duration(runs) * per).Round(time.Minute))

	rep := report{
		Started:  time.Now().UTC().Format(time.RFC3339),
		Machine:  machine(),
		LoadFrom: loadAverage(),
		Rounds:   cfg.rounds,
		Window:   cfg.duration.String(),
		Warmup:   cfg.warmup.String(),
		Pinned:   r.pin,
	}
	n := 0
	for _, sc := range list {
		res := scenarioResult{Name: sc.name, Metric: sc.metric.String(), Args: sc.args}
		for round := range cfg.rounds {
			// Rotate the order each round, so that no server always runs
			// first (cold caches) or last.
			k := round % len(srvs)
			for _, srv := range append(slices.Clone(srvs[k:]), srvs[:k]...) {
				n++
				if sc.compress && !srv.compress {
					continue
				}
				if ctx.Err() != nil {
					fatal(ctx.Err())
				}
				o := r.run(ctx, srv, sc, round+1)
				res.Runs = append(res.Runs, o)
				status := fmt.Sprintf("%s (server %.0f%% cpu, bench %.0f%%)", formatValue(sc.metric, o.Value), o.CPU, o.Load)
				if o.Err != "" {
					status = "error: " + o.Err
				}
				fmt.Fprintf(os.Stderr, "[%d/%d] %s, round %d, %s: %s\n", n, runs, sc.name, round+1, srv.name, status)
			}
		}
		res.summarise(srvs, sc.metric)
		rep.Scenarios = append(rep.Scenarios, res)
	}
	rep.LoadTo = loadAverage()
	rep.Finished = time.Now().UTC().Format(time.RFC3339)

	rep.markdown(os.Stdout, srvs)
	if err := os.MkdirAll(filepath.Dir(*outFile), 0o755); err != nil {
		fatal(err)
	}
	if err := rep.writeJSON(*outFile); err != nil {
		fatal(err)
	}
	fmt.Fprintf(os.Stderr, "compare: every number is in %s\n", *outFile)
}

// config is the length of the runs.
type config struct {
	rounds                   int
	duration, warmup, settle time.Duration
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "compare:", err)
	os.Exit(1)
}
