package main

import (
	"context"
	"sync"

	"github.com/sluice-ws/sluice/ws"
	"github.com/sluice-ws/sluice/wsutil"
)

// tracker knows every WebSocket connection of the server, so that a
// shutdown reaches all of them, and counts the handlers that own them,
// so that a shutdown can wait for them.
//
// net/http's Server.Shutdown does not help here: it forgets a connection
// once a handler hijacks it.
type tracker struct {
	mu       sync.Mutex
	closing  bool                      // guarded by mu; shutdown has begun
	conns    map[*wsutil.Conn]struct{} // guarded by mu
	handlers sync.WaitGroup            // Add only under mu while !closing
}

// enter registers a handler that is about to upgrade a connection. It
// reports false once shutdown has begun; otherwise the handler must call
// leave when it is done.
func (t *tracker) enter() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closing {
		return false
	}
	t.handlers.Add(1)
	return true
}

// leave marks the end of a handler registered by enter.
func (t *tracker) leave() { t.handlers.Done() }

// add registers c. It reports false when shutdown has begun, in which
// case the caller should close c at once; c is registered all the same,
// so that shutdown can still drop it.
func (t *tracker) add(c *wsutil.Conn) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.conns == nil {
		t.conns = make(map[*wsutil.Conn]struct{})
	}
	t.conns[c] = struct{}{}
	return !t.closing
}

// remove unregisters c.
func (t *tracker) remove(c *wsutil.Conn) {
	t.mu.Lock()
	delete(t.conns, c)
	t.mu.Unlock()
}

// len returns the number of registered connections.
func (t *tracker) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.conns)
}

// snapshot returns the registered connections.
func (t *tracker) snapshot() []*wsutil.Conn {
	t.mu.Lock()
	defer t.mu.Unlock()
	cs := make([]*wsutil.Conn, 0, len(t.conns))
	for c := range t.conns {
		cs = append(cs, c)
	}
	return cs
}

// shutdown refuses new connections, runs the closing handshake with code
// and reason on every registered connection at once, and waits for the
// handshakes and then for the handlers. When ctx ends first, it drops the
// connections still open (Terminate). It returns how many connections
// closed cleanly and how many had to be dropped.
//
// A handler still inside its opening handshake when the bound passes is
// waited for as well; the handshake timeout bounds that wait.
func (t *tracker) shutdown(ctx context.Context, code ws.StatusCode, reason string) (closed, dropped int) {
	t.mu.Lock()
	t.closing = true
	t.mu.Unlock()

	conns := t.snapshot()
	results := make(chan error, len(conns))
	for _, c := range conns {
		go func() { results <- c.Close(code, reason) }()
	}
	handlersDone := make(chan struct{})
	go func() {
		t.handlers.Wait()
		close(handlersDone)
	}()

	received := 0
	timedOut := false
	for received < len(conns) && !timedOut {
		select {
		case err := <-results:
			received++
			if err == nil {
				closed++
			}
		case <-ctx.Done():
			timedOut = true
		}
	}
	if !timedOut {
		select {
		case <-handlersDone:
		case <-ctx.Done():
			timedOut = true
		}
	}
	if timedOut {
		// Out of time: drop whatever is left, including connections
		// registered after the snapshot. Terminate also cuts short the
		// pending Close calls, and handlers return once their Conn is
		// done.
		for _, c := range t.snapshot() {
			if c.Terminate() == nil {
				dropped++
			}
		}
	}
	for ; received < len(conns); received++ {
		if err := <-results; err == nil {
			closed++
		}
	}
	<-handlersDone
	return closed, dropped
}
