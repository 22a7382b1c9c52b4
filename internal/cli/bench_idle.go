package cli

import (
	"context"
	"fmt"
	"io"
	"sync/atomic"
	"time"
)

// idleReadBuf sizes the read buffer used for the one echo of an idle
// connection; it is dropped once the echo has come back.
const idleReadBuf = 4 << 10

// settleEvery is how often idle samples the server's RSS while waiting
// for it to settle, and settleWindow how long it must stay within
// settleTolerance of itself to count as settled.
const (
	settleEvery     = 250 * time.Millisecond
	settleWindow    = time.Second
	settleTolerance = 0.01
)

// runIdle runs the idle mode: it opens cfg.conns connections, echoes one
// message on each, and with -pid waits for the server's RSS to settle
// and reports the growth per connection.
func runIdle(ctx context.Context, cfg benchConfig, stderr io.Writer) (benchResult, error) {
	cfg.depth = 1
	frames, err := newBenchFrames(cfg)
	if err != nil {
		return benchResult{}, err
	}
	run := newBenchRun(ctx, cfg)
	defer run.cancel(nil)
	start, startErr := run.sampleServer()

	var opened atomic.Int64
	stopProgress := startProgress(stderr, cfg, run, "conns open", opened.Load)
	t0 := time.Now()
	conns, err := openConns(run.ctx, newBenchDialer(cfg), cfg.conns, idleReadBuf, &opened, func(c *benchConn) error {
		return echoOnce(run.ctx, c, frames, cfg.timeout)
	})
	openTime := time.Since(t0)
	if err != nil {
		stopProgress()
		return benchResult{}, err
	}
	settled, end, endErr := settleRSS(run)
	stopProgress()
	for _, c := range conns {
		// Say goodbye without waiting for the answers: the server sees a
		// close frame and then the end of the stream.
		_ = c.nc.SetWriteDeadline(time.Now().Add(cfg.timeout))
		_, _ = c.nc.Write(frames.close)
		_ = c.nc.Close()
	}
	if err := run.err(); err != nil {
		return benchResult{}, err
	}
	if endErr == nil {
		endErr = startErr
	}

	res := newBenchResult(cfg, window{server: run.serverStats(start, end, endErr)})
	res.Depth = 0
	res.Warmup = 0
	res.Extension = conns[0].ext
	res.Idle = len(conns)
	res.OpenSec = openTime.Seconds()
	res.Settled = settled
	if s := res.Server; s != nil && s.Error == "" {
		s.CPUPercent = 100 * s.CPUSec / time.Since(t0).Seconds()
		s.RSSPerConn = float64(s.RSSEnd-s.RSSStart) / float64(len(conns))
	}
	return res, nil
}

// echoOnce sends one message on c and waits for its echo, then drops c's
// read buffer: an idle connection of bench holds nothing but its socket.
func echoOnce(ctx context.Context, c *benchConn, frames *benchFrames, timeout time.Duration) error {
	// The bound first, then the cancellation, which must win.
	_ = c.nc.SetDeadline(time.Now().Add(timeout))
	stop := context.AfterFunc(ctx, func() { _ = c.nc.SetDeadline(time.Now()) })
	defer stop()
	if _, err := c.nc.Write(frames.all[:frames.one]); err != nil {
		return ctxErr(ctx, peerGone(err))
	}
	sc := frameScanner{frames: frames}
	for {
		used, msgs, ev, err := sc.scan(c.buf[c.r:c.w])
		c.r += used
		switch {
		case err != nil:
			return err
		case ev.op != 0:
			return fmt.Errorf("%w: unexpected %v frame instead of the echo", errServerClosed, ev.op)
		case msgs > 0:
			c.buf, c.r, c.w = nil, 0, 0
			if !stop() {
				return ctx.Err()
			}
			return c.nc.SetDeadline(time.Time{})
		}
		n, err := c.readMore()
		if n == 0 && err != nil {
			return ctxErr(ctx, peerGone(err))
		}
	}
}

// settleRSS samples the server's RSS until it has stayed within
// settleTolerance for settleWindow, or -settle has passed. Without -pid
// there is nothing to wait for.
func settleRSS(run *benchRun) (settled bool, last procSample, err error) {
	if run.cfg.pid == 0 || run.cfg.procErr != "" {
		return true, procSample{}, nil
	}
	t := time.NewTicker(settleEvery)
	defer t.Stop()
	deadline := time.Now().Add(run.cfg.settle)
	var history []int64
	keep := int(settleWindow/settleEvery) + 1
	for {
		last, err = run.sampleServer()
		if err != nil {
			return false, last, err
		}
		history = append(history, last.rss)
		if len(history) > keep {
			history = history[1:]
		}
		if len(history) == keep {
			lo, hi := history[0], history[0]
			for _, v := range history {
				lo, hi = min(lo, v), max(hi, v)
			}
			if float64(hi-lo) <= settleTolerance*float64(hi) {
				return true, last, nil
			}
		}
		if time.Now().After(deadline) {
			return false, last, nil
		}
		select {
		case <-t.C:
		case <-run.ctx.Done():
			return false, last, run.err()
		}
	}
}
