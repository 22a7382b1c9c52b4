package main

import (
	"fmt"
	"io"
	"time"
)

// startProgress prints a progress line to w every cfg.progress while a
// phase of a run goes on: the rate of count (per second, labelled unit)
// or, for a unit that is a state rather than a rate, its value; with
// -pid, the server's share of a core. The returned function stops it and
// waits for it.
func startProgress(w io.Writer, cfg benchConfig, run *benchRun, unit string, count func() int64) (stop func()) {
	if cfg.progress <= 0 {
		return func() {}
	}
	done := make(chan struct{})
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		t := time.NewTicker(cfg.progress)
		defer t.Stop()
		start := time.Now()
		last, lastAt := count(), start
		lastCPU, cpuErr := run.sampleServer()
		for {
			select {
			case <-done:
				return
			case <-run.ctx.Done():
				return
			case now := <-t.C:
				n := count()
				line := fmt.Sprintf("bench %s %6.1fs", cfg.mode, now.Sub(start).Seconds())
				if run.measuring.Load() {
					line += " [measuring]"
				}
				if unit == "msgs/s" || unit == "handshakes/s" {
					rate := float64(n-last) / now.Sub(lastAt).Seconds()
					line += fmt.Sprintf("  %10.0f %s", rate, unit)
					if unit == "msgs/s" {
						line += fmt.Sprintf("  %8.2f MB/s", rate*float64(cfg.size)/1e6)
					}
				} else {
					line += fmt.Sprintf("  %d %s", n, unit)
				}
				if cfg.pid != 0 && cfg.procErr == "" && cpuErr == nil {
					if s, err := run.sampleServer(); err == nil {
						line += fmt.Sprintf("  server cpu %3.0f%% rss %s", 100*(s.cpu-lastCPU.cpu).Seconds()/now.Sub(lastAt).Seconds(), formatBytes(s.rss))
						lastCPU = s
					}
				}
				fmt.Fprintln(w, line)
				last, lastAt = n, now
			}
		}
	}()
	return func() {
		close(done)
		<-exited
	}
}
