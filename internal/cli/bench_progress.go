package cli

import (
	"fmt"
	"io"
	"time"
)

// startProgress prints a progress line to w every cfg.progress while a
// phase of a run goes on, and one more when it ends: the rate of count
// (per second, labelled unit) or, for a unit that is a state rather than
// a rate, its value; with -pid, the server's share of a core and its RSS.
// The returned function stops it and waits for it.
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
		printed := false
		// line prints the progress since the last line.
		line := func(now time.Time) {
			n := count()
			text := fmt.Sprintf("bench %s %6.1fs", cfg.mode, now.Sub(start).Seconds())
			if run.measuring.Load() {
				text += " [measuring]"
			}
			if unit == "msgs/s" || unit == "handshakes/s" {
				rate := float64(n-last) / max(now.Sub(lastAt).Seconds(), 1e-9)
				text += fmt.Sprintf("  %10.0f %s", rate, unit)
				if unit == "msgs/s" {
					text += fmt.Sprintf("  %8.2f MB/s", rate*float64(cfg.size)/1e6)
				}
			} else {
				text += fmt.Sprintf("  %d %s", n, unit)
			}
			if cfg.pid != 0 && cfg.procErr == "" && cpuErr == nil {
				if s, err := run.sampleServer(); err == nil {
					text += fmt.Sprintf("  server cpu %3.0f%% rss %s",
						100*(s.cpu()-lastCPU.cpu()).Seconds()/max(now.Sub(lastAt).Seconds(), 1e-9), formatBytes(s.rss))
					lastCPU = s
				}
			}
			fmt.Fprintln(w, text)
			last, lastAt, printed = n, now, true
		}
		for {
			select {
			case <-done:
				// Every phase gets a line, however short; a last stretch
				// shorter than half an interval adds only noise.
				if now := time.Now(); !printed || now.Sub(lastAt) >= cfg.progress/2 {
					line(now)
				}
				return
			case <-run.ctx.Done():
				return
			case now := <-t.C:
				line(now)
			}
		}
	}()
	return func() {
		close(done)
		<-exited
	}
}
