//go:build linux

package wsutil

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/sluice-ws/sluice/internal/bufpool"
	"github.com/sluice-ws/sluice/ws"
)

// pollLoop is one event loop: a goroutine that waits for the sockets of
// its connections (edge-triggered, in and out) on its own epoll instance,
// reads and writes them without blocking, and runs their deadlines. Other
// goroutines reach it through its lists, under mu, and wake it with an
// eventfd when it sleeps.
//
// The loop does not sleep in epoll_wait: a goroutine blocked in a system
// call holds an OS thread, and the runtime must notice it (sysmon polls
// every 20 µs while it does), hand its P to another thread and take one
// back when the call returns, which cost the loop a context switch and a
// futex wake-up for every few messages. Instead the epoll descriptor,
// which is readable while it has events, is itself registered with the
// runtime's poller (see sleep): the loop parks like any goroutine waiting
// on a socket, and epoll_wait is only ever called with a zero timeout.
type pollLoop struct {
	s       *PollServer
	epfd    int
	epf     *os.File           // epfd, registered with the runtime's poller
	epraw   syscall.RawConn    // epf's, to park on it
	sleepDL time.Time          // epf's read deadline: the next timer
	efd     int                // eventfd: a write wakes the loop
	rbuf    *bufpool.Buf       // the read buffer, replaced when Send keeps a message in it; owned by the loop
	conns   []*PollConn        // by file descriptor; owned by the loop
	events  []unix.EpollEvent  // owned by the loop
	iov     [][]byte           // scratch for writev; owned by the loop
	scratch []byte             // handshake responses; owned by the loop
	timers  pollTimers         // owned by the loop
	now     time.Duration      // the server's clock when epoll_wait last returned
	spare   []*PollConn        // owned by the loop
	again   []*PollConn        // to read again next turn (maxReads); owned by the loop
	again2  []*PollConn        // owned by the loop
	woken   atomic.Bool        // the eventfd was written and not yet read
	asleep  atomic.Bool        // the loop is in, or about to enter, epoll_wait
	mu      sync.Mutex         // guards the fields below
	pending []*PollConn        // connections with something to write or do
	fresh   []pollAccepted     // accepted sockets
	closing *closeFrame        // close every connection (Shutdown)
	stopped bool               // drop everything and exit (Close, end of Shutdown)
	ev      [1]unix.EpollEvent // for epoll_ctl; owned by the loop
}

// pollAccepted is an accepted socket on its way to a loop.
type pollAccepted struct {
	fd   int
	addr netip.AddrPort
}

// maxEvents is how many events one epoll_wait returns at most.
const maxEvents = 256

func newPollLoop(s *PollServer) (*pollLoop, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll_create1: %w", err)
	}
	if err := unix.SetNonblock(epfd, true); err != nil {
		unix.Close(epfd)
		return nil, fmt.Errorf("epoll descriptor: %w", err)
	}
	// Non-blocking, the descriptor joins the runtime's poller.
	epf := os.NewFile(uintptr(epfd), "epoll")
	epraw, err := epf.SyscallConn()
	if err != nil {
		epf.Close()
		return nil, fmt.Errorf("epoll descriptor: %w", err)
	}
	efd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		epf.Close()
		return nil, fmt.Errorf("eventfd: %w", err)
	}
	l := &pollLoop{s: s, epfd: epfd, epf: epf, epraw: epraw, efd: efd, events: make([]unix.EpollEvent, maxEvents), iov: make([][]byte, 0, maxIovecs)}
	l.ev[0] = unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(efd)}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, efd, &l.ev[0]); err != nil {
		l.release()
		return nil, fmt.Errorf("epoll_ctl: %w", err)
	}
	l.rbuf = bufpool.Get(pollReadSize)
	return l, nil
}

// release closes the loop's descriptors and gives back its buffer.
func (l *pollLoop) release() {
	l.epf.Close()
	unix.Close(l.efd)
	if l.rbuf != nil {
		l.rbuf.Release()
	}
}

// run is the loop's goroutine. It exits after stop, once every connection
// is closed.
func (l *pollLoop) run() {
	defer l.s.loopWG.Done()
	defer l.release()
	for {
		l.asleep.Store(true)
		var n int
		if len(l.again) > 0 || l.hasWork() {
			n = l.poll()
		} else {
			n = l.sleep(l.timers.wait(l.s.since()))
		}
		l.asleep.Store(false)
		l.now = l.s.since()
		for _, ev := range l.events[:max(n, 0)] {
			l.event(ev)
		}
		if l.work() {
			return
		}
		for c := l.timers.due(l.now); c != nil; c = l.timers.due(l.now) {
			c.onTimer(l.now)
		}
		again := l.again
		l.again = l.again2[:0]
		for _, c := range again {
			c.flags.later = false
			c.pump()
		}
		clear(again)
		l.again2 = again[:0]
	}
}

// poll returns the events ready now, without waiting.
func (l *pollLoop) poll() int {
	n, err := unix.EpollWait(l.epfd, l.events, 0)
	switch {
	case err == nil:
		return n
	case err == unix.EINTR:
		return 0
	}
	panic(fmt.Sprintf("wsutil: epoll_wait: %v", err))
}

// sleep waits until events are ready, for d at most (d < 0: no limit),
// parked on the epoll descriptor in the runtime's poller, and returns
// them. The runtime's poller is edge-triggered too, and its readiness is
// reset before the first poll below: an event that arrives after that
// poll found none wakes the goroutine.
func (l *pollLoop) sleep(d time.Duration) int {
	var dl time.Time
	if d >= 0 {
		// Whole milliseconds, as epoll_wait's timeout was: a timer
		// that moves by less leaves the deadline where it is.
		dl = time.Now().Add(d).Truncate(time.Millisecond).Add(time.Millisecond)
	}
	if !dl.Equal(l.sleepDL) {
		_ = l.epf.SetReadDeadline(dl)
		l.sleepDL = dl
	}
	n := 0
	err := l.epraw.Read(func(uintptr) bool {
		n = l.poll()
		return n > 0
	})
	if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
		panic(fmt.Sprintf("wsutil: waiting on epoll: %v", err))
	}
	return n
}

// later has c read again in the loop's next turn.
func (l *pollLoop) later(c *PollConn) {
	if !c.flags.later {
		c.flags.later = true
		l.again = append(l.again, c)
	}
}

// event handles one epoll event.
func (l *pollLoop) event(ev unix.EpollEvent) {
	fd := int(ev.Fd)
	if fd == l.efd {
		var b [8]byte
		_, _ = unix.Read(l.efd, b[:])
		l.woken.Store(false)
		return
	}
	if fd >= len(l.conns) || l.conns[fd] == nil {
		return
	}
	c := l.conns[fd]
	e := ev.Events
	if e&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
		c.flags.readble = true
		c.flags.hup = c.flags.hup || e&(unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0
		c.pump()
	}
	if e&(unix.EPOLLOUT|unix.EPOLLHUP|unix.EPOLLERR) != 0 && c.fd >= 0 && c.flags.blocked {
		c.flags.blocked = false
		c.writeOut()
	}
}

// hasWork reports whether other goroutines left the loop something to do.
func (l *pollLoop) hasWork() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.pending) > 0 || len(l.fresh) > 0 || l.closing != nil || l.stopped
}

// work does what other goroutines asked of the loop. It reports true when
// the loop must exit.
func (l *pollLoop) work() bool {
	l.mu.Lock()
	pending, fresh := l.pending, l.fresh
	l.pending, l.fresh = l.spare, nil
	closing, stopped := l.closing, l.stopped
	l.closing = nil
	l.mu.Unlock()
	for _, a := range fresh {
		l.add(a)
	}
	for _, c := range pending {
		if c.fd >= 0 {
			c.flush()
		}
	}
	clear(pending)
	l.spare = pending[:0]
	if closing != nil {
		for _, c := range l.conns {
			switch {
			case c == nil:
			case c.rs == rsHandshake:
				c.finish(errors.Join(ErrAbnormalClosure, net.ErrClosed))
			default:
				_ = c.Close(closing.code, closing.reason)
			}
		}
	}
	if !stopped {
		return false
	}
	for _, c := range l.conns {
		if c != nil {
			c.finish(errors.Join(ErrAbnormalClosure, net.ErrClosed))
		}
	}
	l.mu.Lock()
	fresh, l.fresh = l.fresh, nil
	l.mu.Unlock()
	for _, a := range fresh {
		unix.Close(a.fd)
		l.s.connGone()
	}
	return true
}

// add starts running an accepted socket.
func (l *pollLoop) add(a pollAccepted) {
	if a.fd >= len(l.conns) {
		l.conns = append(l.conns, make([]*PollConn, a.fd+1-len(l.conns)+len(l.conns)/4)...)
	}
	c := &PollConn{fd: a.fd, loop: l, ep: l.s.hsEP}
	c.flags.readble = true
	c.setRemote(a.addr)
	l.conns[a.fd] = c
	l.ev[0] = unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLRDHUP | unix.EPOLLET, Fd: int32(a.fd)}
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, a.fd, &l.ev[0]); err != nil {
		c.finish(fmt.Errorf("wsutil: epoll_ctl: %w", err))
		return
	}
	c.timer.lastRead = l.now
	c.timer.readAt = l.now + l.s.hsEP.hsTimeout
	c.rearm()
	c.pump() // the request is usually there already
}

// forget closes c's socket and forgets c (from finish). What the peer
// sent and we did not read is read first, for closing a socket with
// unread input would reset the connection, and the peer could lose what
// we sent last.
func (l *pollLoop) forget(c *PollConn) {
	l.timers.remove(c)
	if c.fd < 0 {
		return
	}
	for range 4 {
		if n, _ := unix.Read(c.fd, l.rbuf.B); n <= 0 {
			break
		}
	}
	unix.Close(c.fd)
	l.conns[c.fd] = nil
	c.fd = -1
	l.s.connGone()
}

// schedule asks the loop to flush c (any goroutine).
func (l *pollLoop) schedule(c *PollConn) {
	l.mu.Lock()
	l.pending = append(l.pending, c)
	l.mu.Unlock()
	l.wake()
}

// accepted hands an accepted socket to the loop (any goroutine).
func (l *pollLoop) accepted(a pollAccepted) {
	l.mu.Lock()
	l.fresh = append(l.fresh, a)
	l.mu.Unlock()
	l.wake()
}

// closeAll asks the loop to close every connection with code and reason.
func (l *pollLoop) closeAll(code ws.StatusCode, reason string) {
	l.mu.Lock()
	l.closing = &closeFrame{code, reason}
	l.mu.Unlock()
	l.wake()
}

// stop asks the loop to drop every connection and exit.
func (l *pollLoop) stop() {
	l.mu.Lock()
	l.stopped = true
	l.mu.Unlock()
	l.wake()
}

// wake interrupts epoll_wait, when the loop sleeps there.
func (l *pollLoop) wake() {
	if l.asleep.Load() && l.woken.CompareAndSwap(false, true) {
		var one = [8]byte{1}
		_, _ = unix.Write(l.efd, one[:])
	}
}

// accept accepts connections on ln and hands their sockets to the loops.
// The runtime accepts (its poller waits for the listener, and the socket
// is non-blocking and, on TCP, without Nagle's delay); the loop takes a
// duplicate of the descriptor and the runtime's connection is closed at
// once, which leaves the socket open and the runtime's poller out of it.
func (s *PollServer) accept(ln net.Listener) error {
	backoff := time.Duration(0)
	for {
		nc, err := ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, unix.EMFILE) || errors.Is(err, unix.ENFILE) {
				// Out of descriptors: wait for some to come back, as
				// net/http does.
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				time.Sleep(backoff)
				continue
			}
			return err
		}
		backoff = 0
		fd, err := detach(nc)
		if err != nil {
			if errors.Is(err, unix.EMFILE) || errors.Is(err, unix.ENFILE) {
				continue
			}
			return fmt.Errorf("wsutil: poll: %w", err)
		}
		var addr netip.AddrPort
		if a, ok := nc.RemoteAddr().(*net.TCPAddr); ok {
			addr = a.AddrPort()
		}
		s.open.Add(1)
		s.loop().accepted(pollAccepted{fd: fd, addr: addr})
	}
}

// detach returns a duplicate of nc's socket descriptor and closes nc.
func detach(nc net.Conn) (int, error) {
	defer nc.Close()
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return -1, fmt.Errorf("connection %T gives no socket", nc)
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return -1, err
	}
	fd := -1
	var derr error
	if err := rc.Control(func(s uintptr) {
		fd, derr = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0)
	}); err != nil {
		return -1, err
	}
	return fd, derr
}

// errWouldBlock is a non-blocking socket's "try again later".
var errWouldBlock error = unix.EAGAIN

// The loop reads and writes its sockets with raw system calls: they never
// block (the sockets are non-blocking), and a call through syscall.Syscall
// that takes more than 20 µs, as copying a large write does, has the
// runtime take the loop's P away and wake a thread to look for other work,
// of which a loop has none: a futex wake-up and a context switch for
// nothing, every few messages. In exchange a raw call holds its thread
// without a safe point, so each is bounded: a read to its buffer, a
// write to maxWritev bytes.

// maxWritev bounds the bytes one writev offers the kernel, and maxIovecs
// the buffers.
const (
	maxWritev = 256 << 10
	maxIovecs = 8
)

// sysRead reads from a non-blocking socket: n is 0 on an error, and 0
// with a nil error at the end of the stream.
func sysRead(fd int, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		n, _, e := syscall.RawSyscall(syscall.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
		switch e {
		case 0:
			return int(n), nil
		case syscall.EINTR:
			continue
		}
		return 0, e
	}
}

// sysWritev writes bufs, maxWritev bytes of them at most, to a
// non-blocking socket in one system call.
func sysWritev(fd int, bufs [][]byte) (int, error) {
	var iov [maxIovecs]syscall.Iovec
	k, total := 0, 0
	for _, b := range bufs {
		if len(b) == 0 {
			continue
		}
		if k == len(iov) || total == maxWritev {
			break
		}
		b = b[:min(len(b), maxWritev-total)]
		iov[k].Base = &b[0]
		iov[k].SetLen(len(b))
		k++
		total += len(b)
	}
	if k == 0 {
		return 0, nil
	}
	for {
		n, _, e := syscall.RawSyscall(syscall.SYS_WRITEV, uintptr(fd), uintptr(unsafe.Pointer(&iov[0])), uintptr(k))
		switch e {
		case 0:
			return int(n), nil
		case syscall.EINTR:
			continue
		}
		return 0, e
	}
}

// sysShutdownWrite ends our half of the connection.
func sysShutdownWrite(fd int) {
	if fd >= 0 {
		_ = unix.Shutdown(fd, unix.SHUT_WR)
	}
}
