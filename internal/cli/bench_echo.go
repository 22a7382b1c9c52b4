package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluice-ws/sluice/ws"
)

// echoConn is one connection of an echo run. Its writer keeps depth
// messages in flight: it sends as many as the reader has seen come back.
// Each message's send time waits in stamps, a ring of depth slots, for
// its echo: an echo server answers in order, so the i-th echo answers the
// i-th message.
type echoConn struct {
	*benchConn
	run    *benchRun
	frames *benchFrames
	depth  int64

	// credits carries, from reader to writer, how many echoes a read
	// brought: as many messages the writer may send. It never fills: its
	// capacity is depth and every value is at least 1.
	credits    chan int
	readerDone chan struct{} // closed when the reader returns
	stamps     []atomic.Int64
	sent, recv atomic.Int64
	closing    atomic.Bool // the writer has sent the close frame

	wmu  sync.Mutex // serialises writes: the writer's and the reader's pongs
	hist histogram  // owned by the reader
}

// echoReadBuf sizes the read buffer of an echo connection: big enough to
// take many small echoes, or a good part of a large one, per system call.
const echoReadBuf = 64 << 10

// runEcho runs the echo mode.
func runEcho(ctx context.Context, cfg benchConfig, stderr io.Writer) (benchResult, error) {
	frames, err := newBenchFrames(cfg)
	if err != nil {
		return benchResult{}, err
	}
	run := newBenchRun(ctx, cfg)
	defer run.cancel(nil)
	var opened atomic.Int64
	stopProgress := startProgress(stderr, cfg, run, "conns open", opened.Load)
	conns, err := openConns(run.ctx, newBenchDialer(cfg), cfg.conns, echoReadBuf, &opened, nil)
	stopProgress()
	if err != nil {
		return benchResult{}, err
	}
	ecs := make([]*echoConn, len(conns))
	for i, c := range conns {
		ecs[i] = &echoConn{
			benchConn:  c,
			run:        run,
			frames:     frames,
			depth:      int64(cfg.depth),
			credits:    make(chan int, cfg.depth),
			readerDone: make(chan struct{}),
			stamps:     make([]atomic.Int64, cfg.depth),
		}
	}
	received := func() int64 {
		var n int64
		for _, c := range ecs {
			n += c.recv.Load()
		}
		return n
	}

	// A failure anywhere (or ctx) ends every connection's I/O at once.
	// dlMu keeps the drain deadlines below from undoing that.
	var dlMu sync.Mutex
	cancelled := false
	stopIO := context.AfterFunc(run.ctx, func() {
		dlMu.Lock()
		defer dlMu.Unlock()
		cancelled = true
		for _, c := range ecs {
			_ = c.nc.SetDeadline(time.Now())
		}
	})
	defer stopIO()
	stopSend := make(chan struct{})
	var wg sync.WaitGroup
	for _, c := range ecs {
		wg.Go(func() {
			if err := c.read(); err != nil {
				run.fail(err)
			}
		})
		wg.Go(func() {
			if err := c.write(stopSend); err != nil {
				run.fail(err)
			}
		})
	}
	stopProgress = startProgress(stderr, cfg, run, "msgs/s", received)
	win, err := run.measure(received)
	stopProgress()

	// Stop sending, wait for the echoes of what is in flight, close.
	close(stopSend)
	dlMu.Lock()
	if !cancelled {
		for _, c := range ecs {
			_ = c.nc.SetDeadline(time.Now().Add(cfg.timeout))
		}
	}
	dlMu.Unlock()
	wg.Wait()
	for _, c := range ecs {
		_ = c.nc.Close()
	}
	if err := run.err(); err != nil {
		return benchResult{}, err
	}
	if err != nil {
		return benchResult{}, err
	}

	res := newBenchResult(cfg, win)
	res.Extension = ecs[0].ext
	var hist histogram
	for _, c := range ecs {
		res.Sent += c.sent.Load()
		res.Received += c.recv.Load()
		res.Messages += int64(c.hist.total)
		hist.merge(&c.hist)
	}
	res.MsgsPerSec = float64(res.Messages) / win.elapsed.Seconds()
	res.MBPerSec = res.MsgsPerSec * float64(cfg.size) / 1e6
	res.Latency = newLatencyStats(&hist)
	if res.Server != nil && res.Server.CPUSec > 0 {
		res.Server.MsgsPerCPUSec = float64(res.Messages) / res.Server.CPUSec
	}
	return res, nil
}

// write is the writer of c: it sends the first depth messages, then as
// many as come back, until stopSend is closed; then it waits for the
// echoes still in flight and sends a close frame. It returns early,
// without an error, when the reader has stopped.
func (c *echoConn) write(stopSend <-chan struct{}) error {
	var sent, inflight int64
	k := c.depth
	for {
		t := c.run.now()
		for j := range k {
			c.stamps[(sent+j)%c.depth].Store(t)
		}
		if err := c.writeFrames(c.frames.all[:int(k)*c.frames.one]); err != nil {
			return err
		}
		sent += k
		inflight += k
		c.sent.Store(sent)
		select {
		case n := <-c.credits:
			k = int64(n)
		case <-stopSend:
			return c.drain(inflight)
		case <-c.readerDone:
			return nil
		}
		// Take every credit already there: one write for all of them.
	more:
		for {
			select {
			case n := <-c.credits:
				k += int64(n)
			default:
				break more
			}
		}
		inflight -= k
	}
}

// drain waits for the echoes of the inflight messages, then starts the
// closing handshake.
func (c *echoConn) drain(inflight int64) error {
	for inflight > 0 {
		select {
		case n := <-c.credits:
			inflight -= int64(n)
		case <-c.readerDone:
			return nil
		}
	}
	c.closing.Store(true)
	return c.writeFrames(c.frames.close)
}

// writeFrames writes p, which holds whole frames.
func (c *echoConn) writeFrames(p []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_, err := c.nc.Write(p)
	if err != nil {
		return c.ioErr(err)
	}
	return nil
}

// read is the reader of c: it counts echoes, records their round trips
// while the window is open (the histogram's count is the window's count
// of messages), and hands credits to the writer. It returns
// nil once the server has answered the close frame that ends a run.
func (c *echoConn) read() error {
	defer close(c.readerDone)
	sc := frameScanner{frames: c.frames}
	var recv int64
	for {
		used, msgs, ev, err := sc.scan(c.buf[c.r:c.w])
		c.r += used
		if msgs > 0 {
			if c.run.measuring.Load() {
				now := c.run.now()
				for j := range int64(msgs) {
					c.hist.record(time.Duration(now - c.stamps[(recv+j)%c.depth].Load()))
				}
			}
			recv += int64(msgs)
			c.recv.Store(recv)
			c.credits <- msgs
		}
		if err != nil {
			return fmt.Errorf("protocol error after %d messages: %w", recv, err)
		}
		switch ev.op {
		case ws.OpPing:
			if err := c.writeFrames(ws.AppendFrame(nil, ws.NewPongFrame(ev.payload).Masked(benchMask))); err != nil {
				return err
			}
			continue
		case ws.OpClose:
			return c.serverClose(ev.payload, recv)
		}
		n, err := c.readMore()
		if n == 0 && err != nil {
			if c.closing.Load() && errors.Is(err, io.EOF) {
				return nil // a server that closes TCP without answering our close
			}
			if isTimeout(err) && c.run.ctx.Err() == nil {
				if c.closing.Load() {
					return fmt.Errorf("server did not answer the close frame within -timeout %v", c.run.cfg.timeout)
				}
				return fmt.Errorf("%d messages not echoed within -timeout %v after the run", c.sent.Load()-recv, c.run.cfg.timeout)
			}
			return c.ioErr(err)
		}
	}
}

// serverClose handles the server's close frame: the answer to ours at
// the end of a run, or the server closing in the middle of it.
func (c *echoConn) serverClose(payload []byte, recv int64) error {
	if c.closing.Load() {
		return nil
	}
	code, reason, err := ws.ParseCloseBody(payload)
	if err != nil {
		return fmt.Errorf("%w after %d messages: invalid close frame: %v", errServerClosed, recv, err)
	}
	return fmt.Errorf("%w after %d messages: close %d %q", errServerClosed, recv, code, reason)
}

// ioErr interprets an I/O error of c: nothing when the run is over, the
// server going away, or err as it is.
func (c *echoConn) ioErr(err error) error {
	if c.run.ctx.Err() != nil {
		return nil // the run's own cause says why
	}
	return peerGone(err)
}
