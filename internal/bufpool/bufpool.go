// Package bufpool hands out byte buffers from size-classed pools, so that a
// connection holds a buffer only while a frame or message needs it and one
// large message does not pin a large buffer for the life of a connection.
//
// Classes are the powers of two from MinSize to MaxPooled. A request above
// MaxPooled gets a buffer of exactly its size that Put lets go to the
// garbage collector. Pooled buffers that nobody takes back are freed by the
// runtime over two garbage collections (sync.Pool's victim cache).
package bufpool

import (
	"math/bits"
	"sync"
	"sync/atomic"
)

const (
	// MinSize is the smallest class.
	MinSize = 256
	// MaxPooled is the largest class kept for reuse.
	MaxPooled = 4 << 20

	minShift = 8 // log2(MinSize)
	classes  = 23 - minShift
)

// Buf is a pooled buffer. B has the class's capacity; code may reslice B
// within its capacity but must not replace it with a grown copy.
//
// A Buf counts its holders: Get returns it with one, Retain adds one, and
// Release gives one back; the last Release returns it to its pool.
type Buf struct {
	B    []byte
	refs atomic.Int32
}

// Retain adds a holder.
func (b *Buf) Retain() { b.refs.Add(1) }

// Shared reports whether b has more than one holder: a holder that
// reuses b's bytes must take another buffer then.
func (b *Buf) Shared() bool { return b.refs.Load() > 1 }

// Release gives one holder's claim back; after the last, b returns to its
// pool and must not be used, nor any slice of b.B.
func (b *Buf) Release() {
	switch n := b.refs.Add(-1); {
	case n == 0:
		put(b)
	case n < 0:
		panic("bufpool: Buf released more often than retained")
	}
}

var pools [classes]sync.Pool

// class returns the index of the smallest class that holds n bytes, or -1
// when n is over MaxPooled.
func class(n int) int {
	if n <= MinSize {
		return 0
	}
	if n > MaxPooled {
		return -1
	}
	return bits.Len(uint(n-1)) - minShift
}

// ClassSize returns the capacity of the buffer Get(n) returns.
func ClassSize(n int) int {
	c := class(n)
	if c < 0 {
		return n
	}
	return MinSize << c
}

// Get returns a buffer whose B has length n and capacity ClassSize(n). Its
// contents are undefined.
func Get(n int) *Buf {
	c := class(n)
	if c < 0 {
		b := &Buf{B: make([]byte, n)}
		b.refs.Store(1)
		return b
	}
	if b, ok := pools[c].Get().(*Buf); ok {
		b.B = b.B[:n]
		b.refs.Store(1)
		return b
	}
	b := &Buf{B: make([]byte, n, MinSize<<c)}
	b.refs.Store(1)
	return b
}

// put gives b back to its pool. A buffer whose capacity is not a class
// size (over MaxPooled, or grown by append) is left to the garbage
// collector.
func put(b *Buf) {
	n := cap(b.B)
	c := class(n)
	if c < 0 || MinSize<<c != n {
		return
	}
	b.B = b.B[:0]
	pools[c].Put(b)
}
