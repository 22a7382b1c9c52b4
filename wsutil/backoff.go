package wsutil

import (
	"math/rand/v2"
	"time"
)

// Default bounds of a zero Backoff.
const (
	DefaultBackoffMin = 500 * time.Millisecond
	DefaultBackoffMax = 30 * time.Second
)

// Backoff is the wait before each attempt to reconnect: exponential with
// full jitter, a random duration between 0 and a ceiling that doubles
// with each failed attempt in a row, from Min up to Max. Full jitter
// spreads the clients a restarted server lost over the whole interval,
// instead of sending them back in waves. The zero value waits up to
// DefaultBackoffMin, then up to 1 s, 2 s… up to DefaultBackoffMax.
type Backoff struct {
	Min time.Duration // the first ceiling; 0 means DefaultBackoffMin
	Max time.Duration // the largest ceiling; 0 means DefaultBackoffMax
}

// Delay returns the wait before attempt n, counted from 1 for the first
// attempt after a failure or a lost connection: a random duration in
// [0, min(Max, Min·2^(n-1))).
func (b Backoff) Delay(n int) time.Duration {
	lo := withDefault(b.Min, DefaultBackoffMin)
	hi := max(withDefault(b.Max, DefaultBackoffMax), lo)
	ceiling := lo
	for i := 1; i < n && ceiling < hi; i++ {
		ceiling *= 2
	}
	ceiling = min(ceiling, hi)
	return rand.N(ceiling)
}
