package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// benchRun is the state every connection of a run shares: cancellation
// with the first failure as its cause, and the flag that tells readers
// whether the measured window is open.
type benchRun struct {
	ctx       context.Context
	cancel    context.CancelCauseFunc
	cfg       benchConfig
	measuring atomic.Bool
	base      time.Time // origin of now
}

func newBenchRun(ctx context.Context, cfg benchConfig) *benchRun {
	r := &benchRun{cfg: cfg, base: time.Now()}
	r.ctx, r.cancel = context.WithCancelCause(ctx)
	return r
}

// now returns the monotonic time since the run began, in nanoseconds.
func (r *benchRun) now() int64 { return int64(time.Since(r.base)) }

// fail ends the run with err, unless it has already ended.
func (r *benchRun) fail(err error) { r.cancel(err) }

// err returns why the run ended early, or nil.
func (r *benchRun) err() error {
	if r.ctx.Err() == nil {
		return nil
	}
	return context.Cause(r.ctx)
}

// window is the measured part of a run.
type window struct {
	elapsed    time.Duration
	countStart int64 // the run's counter when the window opened
	count      int64 // what it counted during the window
	server     *serverStats
}

// measure waits out the warm-up, then opens the measured window for
// cfg.duration. count reads the run's counter (messages, handshakes); the
// server's CPU time and RSS are sampled at both ends. It returns early,
// with the run's error, if the run fails.
func (r *benchRun) measure(count func() int64) (window, error) {
	var w window
	if err := r.sleep(r.cfg.warmup); err != nil {
		return w, err
	}
	start, startErr := r.sampleServer()
	t0 := time.Now()
	w.countStart = count()
	r.measuring.Store(true)
	if err := r.sleep(r.cfg.duration); err != nil {
		return w, err
	}
	r.measuring.Store(false)
	w.count = count() - w.countStart
	w.elapsed = time.Since(t0)
	end, endErr := r.sampleServer()
	w.server = r.serverStats(start, end, errors.Join(startErr, endErr))
	if w.server != nil && w.server.Error == "" {
		w.server.CPUPercent = 100 * w.server.CPUSec / w.elapsed.Seconds()
	}
	return w, nil
}

// sleep waits for d or until the run ends.
func (r *benchRun) sleep(d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-r.ctx.Done():
		return r.err()
	}
}

// sampleServer reads the server's CPU time and RSS, when -pid was given.
func (r *benchRun) sampleServer() (procSample, error) {
	if r.cfg.pid == 0 || r.cfg.procErr != "" {
		return procSample{}, nil
	}
	return readProc(r.cfg.pid)
}

// serverStats turns two samples into the server's figures, or says why
// there are none. It returns nil without -pid.
func (r *benchRun) serverStats(start, end procSample, err error) *serverStats {
	switch {
	case r.cfg.pid == 0:
		return nil
	case r.cfg.procErr != "":
		return &serverStats{PID: r.cfg.pid, Error: r.cfg.procErr}
	case err != nil:
		return &serverStats{PID: r.cfg.pid, Error: err.Error()}
	}
	return &serverStats{
		PID:         r.cfg.pid,
		CPUSec:      (end.cpu() - start.cpu()).Seconds(),
		KernelShare: kernelShare(start, end),
		RSSStart:    start.rss,
		RSSEnd:      end.rss,
	}
}

// kernelShare is the part of the CPU time the server used between two
// samples that it spent in the kernel (system time), or nil when it used
// none that /proc could count.
func kernelShare(start, end procSample) *float64 {
	cpu := end.cpu() - start.cpu()
	if cpu <= 0 {
		return nil
	}
	share := float64(end.system-start.system) / float64(cpu)
	return &share
}

// openParallel is how many connections bench opens at once.
const openParallel = 64

// openConns opens n connections with d, openParallel at a time, and
// calls each (if not nil) on every new one before it counts as open.
// opened counts them as they come, for the progress line. On failure it
// closes what it opened and returns the first error.
func openConns(ctx context.Context, d *benchDialer, n, bufSize int, opened *atomic.Int64,
	each func(c *benchConn) error) ([]*benchConn, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	conns := make([]*benchConn, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(n, openParallel) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				c, err := d.dial(ctx, i, bufSize)
				if err == nil && each != nil {
					if err = each(c); err != nil {
						_ = c.nc.Close()
					}
				}
				if err != nil {
					cancel(fmt.Errorf("connection %d: %w", i, err))
					return
				}
				conns[i] = c
				opened.Add(1)
			}
		})
	}
	wg.Wait()
	if ctx.Err() != nil {
		for _, c := range conns {
			if c != nil {
				_ = c.nc.Close()
			}
		}
		return nil, context.Cause(ctx)
	}
	return conns, nil
}

// peerGone wraps errServerClosed around an I/O error that means the
// server went away: end of stream, reset, broken pipe.
func peerGone(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		return fmt.Errorf("%w: %v", errServerClosed, err)
	}
	return err
}

// isTimeout reports whether err is a deadline expiring.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
