package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// stormReadBuf sizes the read buffer of a storm connection: the 101
// response and the close frame.
const stormReadBuf = 4 << 10

// runStorm runs the connect-storm mode: cfg.conns workers each open a
// connection, complete the handshake, close it with a closing handshake,
// wait for the server to close TCP (so that TIME_WAIT lands on the
// server's side, not on bench's ports), and start over.
func runStorm(ctx context.Context, cfg benchConfig, stderr io.Writer) (benchResult, error) {
	frames, err := newBenchFrames(cfg)
	if err != nil {
		return benchResult{}, err
	}
	d := newBenchDialer(cfg)
	run := newBenchRun(ctx, cfg)
	defer run.cancel(nil)

	var cycles, next atomic.Int64
	var ext atomic.Value
	hists := make([]histogram, cfg.conns)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range cfg.conns {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				i := int(next.Add(1) - 1)
				e, err := stormOnce(run, d, frames, i, &hists[w])
				if err != nil {
					run.fail(fmt.Errorf("connection %d: %w", i, err))
					return
				}
				if run.ctx.Err() != nil {
					return
				}
				ext.CompareAndSwap(nil, e)
				cycles.Add(1)
			}
		})
	}
	stopProgress := startProgress(stderr, cfg, run, "handshakes/s", cycles.Load)
	win, err := run.measure(cycles.Load)
	stopProgress()
	close(stop)
	wg.Wait()
	if err := run.err(); err != nil {
		return benchResult{}, err
	}
	if err != nil {
		return benchResult{}, err
	}

	res := newBenchResult(cfg, win)
	res.Depth = 0
	if e, ok := ext.Load().(string); ok {
		res.Extension = e
	}
	var hist histogram
	for i := range hists {
		hist.merge(&hists[i])
	}
	res.Handshakes = win.count
	res.HandshakesPerSec = float64(win.count) / win.elapsed.Seconds()
	res.Latency = newLatencyStats(&hist)
	if res.Server != nil && res.Server.CPUSec > 0 {
		res.Server.HandshakesPerCPUSec = float64(win.count) / res.Server.CPUSec
	}
	return res, nil
}

// stormOnce opens connection i, records the time to its 101 response
// while the window is open, closes it and waits for the server's end of
// the TCP connection. It returns the extensions the server answered. It
// returns no error when the run ended meanwhile.
func stormOnce(run *benchRun, d *benchDialer, frames *benchFrames, i int, hist *histogram) (string, error) {
	t0 := run.now()
	c, err := d.dial(run.ctx, i, stormReadBuf)
	if err != nil {
		if run.ctx.Err() != nil {
			return "", nil
		}
		return "", err
	}
	defer c.nc.Close()
	if run.measuring.Load() {
		hist.record(time.Duration(run.now() - t0))
	}
	// The bound first, then the cancellation, which must win.
	_ = c.nc.SetDeadline(time.Now().Add(d.timeout))
	stop := context.AfterFunc(run.ctx, func() { _ = c.nc.SetDeadline(time.Now()) })
	defer stop()
	if _, err := c.nc.Write(frames.close); err != nil {
		return "", c.stormErr(run, err)
	}
	// The server answers with its close frame, then closes TCP (RFC 6455
	// §7.1.1): read to the end of the stream.
	for {
		_, err := c.nc.Read(c.buf)
		if errors.Is(err, io.EOF) {
			return c.ext, nil
		}
		if err != nil {
			if isTimeout(err) && run.ctx.Err() == nil {
				return "", fmt.Errorf("server did not close the connection within -timeout %v of the closing handshake", d.timeout)
			}
			return "", c.stormErr(run, err)
		}
	}
}

// stormErr interprets an I/O error after the handshake: nothing when the
// run has ended, err otherwise.
func (c *benchConn) stormErr(run *benchRun, err error) error {
	if run.ctx.Err() != nil {
		return nil
	}
	return err
}
