//go:build linux

package wsutil

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sluice-ws/sluice/internal/bufpool"
	"github.com/sluice-ws/sluice/ws"
)

// pollLoop is one event loop: a goroutine that waits in epoll_wait for
// the sockets of its connections (edge-triggered, in and out), reads and
// writes them without blocking, and runs their deadlines. Other
// goroutines reach it through its lists, under mu, and wake it with an
// eventfd when it sleeps.
type pollLoop struct {
	s       *PollServer
	epfd    int
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
	efd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		unix.Close(epfd)
		return nil, fmt.Errorf("eventfd: %w", err)
	}
	l := &pollLoop{s: s, epfd: epfd, efd: efd, events: make([]unix.EpollEvent, maxEvents), iov: make([][]byte, 0, 8)}
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
	unix.Close(l.epfd)
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
		wait := -1
		if d := l.timers.wait(l.s.since()); d >= 0 {
			wait = int((d + time.Millisecond - 1) / time.Millisecond)
		}
		l.asleep.Store(true)
		if len(l.again) > 0 || l.hasWork() {
			wait = 0
		}
		n, err := unix.EpollWait(l.epfd, l.events, wait)
		l.asleep.Store(false)
		if err != nil && err != unix.EINTR {
			panic(fmt.Sprintf("wsutil: epoll_wait: %v", err))
		}
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

// sysRead reads from a non-blocking socket: n is 0 on an error, and 0
// with a nil error at the end of the stream.
func sysRead(fd int, p []byte) (int, error) {
	for {
		n, err := unix.Read(fd, p)
		if err == unix.EINTR {
			continue
		}
		return max(n, 0), err
	}
}

// sysWritev writes bufs to a non-blocking socket in one system call.
func sysWritev(fd int, bufs [][]byte) (int, error) {
	for {
		n, err := unix.Writev(fd, bufs)
		if err == unix.EINTR {
			continue
		}
		return max(n, 0), err
	}
}

// sysShutdownWrite ends our half of the connection.
func sysShutdownWrite(fd int) {
	if fd >= 0 {
		_ = unix.Shutdown(fd, unix.SHUT_WR)
	}
}
