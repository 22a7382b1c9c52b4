package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"
)

// benchResult is everything a run measured: the JSON line at the end of
// sluice bench, and the table before it. Counts cover the measured
// window unless named otherwise.
type benchResult struct {
	Mode     string  `json:"mode"`
	URL      string  `json:"url"`
	Conns    int     `json:"conns"`
	Depth    int     `json:"depth,omitempty"`
	Size     int64   `json:"size"`
	Opcode   string  `json:"opcode"`
	Compress bool    `json:"compress"`
	Sources  int     `json:"sources"`
	Warmup   float64 `json:"warmup_s"`
	Duration float64 `json:"duration_s"` // the measured window as it lasted
	// Extension is the server's Sec-WebSocket-Extensions answer.
	Extension string `json:"extension,omitempty"`

	// echo: Sent and Received count the whole run, warm-up and drain
	// included, and are equal after a run that succeeded.
	Sent       int64   `json:"sent,omitempty"`
	Received   int64   `json:"received,omitempty"`
	Messages   int64   `json:"messages,omitempty"`
	MsgsPerSec float64 `json:"msgs_per_s,omitempty"`
	MBPerSec   float64 `json:"mb_per_s,omitempty"` // payload bytes, each way

	// storm
	Handshakes       int64   `json:"handshakes,omitempty"`
	HandshakesPerSec float64 `json:"handshakes_per_s,omitempty"`

	// idle
	Idle    int  `json:"idle_conns,omitempty"`
	Settled bool `json:"settled,omitempty"`
	// OpenSec is how long opening the idle connections took.
	OpenSec float64 `json:"open_s,omitempty"`

	// Latency is the round trip of a message (echo) or the time from
	// connect to the 101 response (storm).
	Latency *latencyStats `json:"latency_us,omitempty"`
	Server  *serverStats  `json:"server,omitempty"`
}

// latencyStats are quantiles of a histogram, in microseconds.
type latencyStats struct {
	P50  float64 `json:"p50"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p999"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
	N    uint64  `json:"n"`
}

// serverStats is what -pid measured of the server over the window.
type serverStats struct {
	PID        int     `json:"pid"`
	CPUSec     float64 `json:"cpu_s"`
	CPUPercent float64 `json:"cpu_pct"` // of one core
	// KernelShare is the part of CPUSec spent in the kernel (system
	// time), from 0 to 1; nil when CPUSec is 0.
	KernelShare *float64 `json:"kernel_share,omitempty"`
	RSSStart    int64    `json:"rss_start"`
	RSSEnd      int64    `json:"rss_end"`
	// MsgsPerCPUSec (echo) and HandshakesPerCPUSec (storm) are the
	// work done per second of the server's CPU time.
	MsgsPerCPUSec       float64 `json:"msgs_per_cpu_s,omitempty"`
	HandshakesPerCPUSec float64 `json:"handshakes_per_cpu_s,omitempty"`
	// RSSPerConn (idle) is (RSSEnd-RSSStart)/Idle, in bytes.
	RSSPerConn float64 `json:"rss_per_conn,omitempty"`
	// Error says why there are no figures.
	Error string `json:"error,omitempty"`
}

// newBenchResult fills in what every mode reports.
func newBenchResult(cfg benchConfig, win window) benchResult {
	op := "binary"
	if cfg.text {
		op = "text"
	}
	return benchResult{
		Mode:     cfg.mode,
		URL:      cfg.target.url,
		Conns:    cfg.conns,
		Depth:    cfg.depth,
		Size:     int64(cfg.size),
		Opcode:   op,
		Compress: cfg.compress,
		Sources:  cfg.sources,
		Warmup:   cfg.warmup.Seconds(),
		Duration: win.elapsed.Seconds(),
		Server:   win.server,
	}
}

func newLatencyStats(h *histogram) *latencyStats {
	if h.total == 0 {
		return nil
	}
	us := func(d time.Duration) float64 { return float64(d) / 1e3 }
	return &latencyStats{
		P50:  us(h.quantile(0.50)),
		P99:  us(h.quantile(0.99)),
		P999: us(h.quantile(0.999)),
		Max:  us(time.Duration(h.max)),
		Mean: us(h.mean()),
		N:    h.total,
	}
}

// write prints the table, then the JSON line.
func (r benchResult) write(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(name, format string, args ...any) {
		fmt.Fprintf(tw, "%s\t"+format+"\n", append([]any{name}, args...)...)
	}
	row("mode", "%s  %s", r.Mode, r.URL)
	switch r.Mode {
	case modeEcho:
		row("load", "%d conns × depth %d, %s %s messages%s", r.Conns, r.Depth, formatBytes(r.Size), r.Opcode, compressNote(r))
	case modeStorm:
		row("load", "%d workers: connect, handshake, close%s", r.Conns, compressNote(r))
	case modeIdle:
		row("load", "%d idle connections, one %s echo each", r.Idle, formatBytes(r.Size))
	}
	if r.Mode != modeIdle {
		row("window", "%.2f s after %.2f s of warm-up", r.Duration, r.Warmup)
	}
	switch r.Mode {
	case modeEcho:
		row("messages", "%d in the window (whole run: %d sent, %d received)", r.Messages, r.Sent, r.Received)
		row("rate", "%.0f msgs/s, %.2f MB/s of payload each way", r.MsgsPerSec, r.MBPerSec)
	case modeStorm:
		row("handshakes", "%d in the window", r.Handshakes)
		row("rate", "%.0f handshakes/s", r.HandshakesPerSec)
	case modeIdle:
		settled := "settled"
		if !r.Settled {
			settled = "not settled within -settle"
		}
		row("opened", "in %.2f s; server RSS %s", r.OpenSec, settled)
	}
	if l := r.Latency; l != nil {
		what := "round trip"
		if r.Mode == modeStorm {
			what = "connect to 101"
		}
		row("latency", "%s p50 %s  p99 %s  p999 %s  max %s  (mean %s, %d samples)", what,
			formatMicros(l.P50), formatMicros(l.P99), formatMicros(l.P999), formatMicros(l.Max), formatMicros(l.Mean), l.N)
	}
	switch s := r.Server; {
	case s == nil:
		row("server", "no -pid: CPU and RSS not measured")
	case s.Error != "":
		row("server", "pid %d: unavailable: %s", s.PID, s.Error)
	default:
		row("server cpu", "%.2f s (%.0f%% of a core)%s", s.CPUSec, s.CPUPercent, kernelNote(s))
		switch {
		case s.MsgsPerCPUSec > 0:
			row("per cpu-second", "%.0f messages per server CPU-second", s.MsgsPerCPUSec)
		case s.HandshakesPerCPUSec > 0:
			row("per cpu-second", "%.0f handshakes per server CPU-second", s.HandshakesPerCPUSec)
		}
		row("server rss", "%s → %s", formatBytes(s.RSSStart), formatBytes(s.RSSEnd))
		if r.Mode == modeIdle {
			row("rss per conn", "%s", formatBytes(int64(s.RSSPerConn)))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// kernelNote says how much of the server's CPU time went to the kernel,
// when that is known.
func kernelNote(s *serverStats) string {
	if s.KernelShare == nil {
		return ""
	}
	return fmt.Sprintf(", %.0f%% of it in the kernel", 100**s.KernelShare)
}

func compressNote(r benchResult) string {
	if !r.Compress {
		return ""
	}
	return fmt.Sprintf(", permessage-deflate (%s)", r.Extension)
}

// formatBytes prints n bytes with a binary unit.
func formatBytes(n int64) string {
	neg := ""
	if n < 0 {
		neg, n = "-", -n
	}
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%s%.1f GiB", neg, float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%s%.1f MiB", neg, float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%s%.1f KiB", neg, float64(n)/(1<<10))
	}
	return fmt.Sprintf("%s%d B", neg, n)
}

// formatMicros prints a duration given in microseconds.
func formatMicros(us float64) string {
	d := time.Duration(us * 1e3)
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%.2fs", d.Seconds())
	case d >= time.Millisecond:
		return fmt.Sprintf("%.2fms", float64(d)/1e6)
	}
	return fmt.Sprintf("%.1fµs", us)
}
