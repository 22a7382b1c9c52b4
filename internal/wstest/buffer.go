package wstest

import (
	"bytes"
	"fmt"
	"regexp"
	"sync"
	"testing"
	"time"
)

// Buffer is an io.Writer that a program under test may write from any
// goroutine, such as its log, while the test waits for a pattern to show
// up. Its zero value is ready to use.
type Buffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{} // closed and replaced on every write
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n, err := b.buf.Write(p)
	if b.changed != nil {
		close(b.changed)
		b.changed = nil
	}
	return n, err
}

// String returns what was written.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// WaitFor waits until the buffer matches re and returns the submatches.
func (b *Buffer) WaitFor(t *testing.T, re string) []string {
	t.Helper()
	rx := regexp.MustCompile(re)
	var m []string
	b.Wait(t, re, func(p []byte) bool {
		m = rx.FindStringSubmatch(string(p))
		return m != nil
	})
	return m
}

// WaitLen waits until the buffer holds at least n bytes.
func (b *Buffer) WaitLen(t *testing.T, n int) {
	t.Helper()
	b.Wait(t, fmt.Sprintf("%d bytes", n), func(p []byte) bool { return len(p) >= n })
}

// Wait waits until done, called with the contents after every write,
// reports true.
func (b *Buffer) Wait(t *testing.T, what string, done func([]byte) bool) {
	t.Helper()
	timeout := time.NewTimer(time.Until(Deadline(t)))
	defer timeout.Stop()
	for {
		b.mu.Lock()
		ok := done(b.buf.Bytes())
		if b.changed == nil {
			b.changed = make(chan struct{})
		}
		changed := b.changed
		b.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-changed:
		case <-timeout.C:
			s := b.String()
			if len(s) > 2000 {
				s = "…" + s[len(s)-2000:]
			}
			t.Fatalf("%v; got %d bytes:\n%s", Expired(t, what), b.Len(), s)
		}
	}
}

// Len returns the number of bytes written.
func (b *Buffer) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Len()
}
