//go:build amd64 && linux && !purego && !noasm

package wsutil

import (
	"math/rand/v2"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// TestValidAVX2StaysInBounds runs the vector code on inputs that end just
// before an inaccessible page or start just after one, at every length from
// its minimum up to 300 bytes: a read outside p[:n] faults.
func TestValidAVX2StaysInBounds(t *testing.T) {
	if !useSIMD {
		t.Skip("no AVX2")
	}
	t.Parallel()
	page := unix.Getpagesize()
	mem, err := unix.Mmap(-1, 0, 3*page, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, unix.Munmap(mem)) })
	require.NoError(t, unix.Mprotect(mem[:page], unix.PROT_NONE))
	require.NoError(t, unix.Mprotect(mem[2*page:], unix.PROT_NONE))
	usable := mem[page : 2*page]

	// Mostly valid text: an error found early ends the scan early. Half
	// the inputs are ASCII (but for a damaged byte), for the ASCII skips.
	rng := rand.New(rand.NewPCG(9, 10))
	chars := []string{"a", "é", "日", "😀"}
	for n := simdMin; n <= 300; n++ {
		for i := range 8 {
			pick := chars
			if i%2 == 1 {
				pick = chars[:1]
			}
			src := make([]byte, 0, n+4)
			for len(src) < n {
				c := pick[rng.IntN(len(pick))]
				if len(src)+len(c) > n {
					c = "a"
				}
				src = append(src, c...)
			}
			if rng.IntN(4) == 0 {
				src[rng.IntN(n)] = byte(rng.Uint32())
			}
			want := utf8.Valid(src)
			atEnd := usable[len(usable)-n:]
			copy(atEnd, src)
			assert.Equal(t, want, validAVX2(&atEnd[0], n), "% x before a guard page", src)
			atStart := usable[:n]
			copy(atStart, src)
			assert.Equal(t, want, validAVX2(&atStart[0], n), "% x after a guard page", src)
		}
	}
}

// TestUTF8VecClasses checks the class tables of validAVX2 against Table 3-7
// for every pair of bytes (previous, current). The tables see only the high
// nibble of the current byte, and a bad lead byte is reported in the pair it
// starts, so a current lead byte stands for a valid one with the same high
// nibble. With that, a pair must have a class exactly when no valid text
// contains it; continuation after continuation, which valid text may
// contain, must have twoConts alone, for validAVX2 to settle.
func TestUTF8VecClasses(t *testing.T) {
	t.Parallel()
	isCont := func(b int) bool { return b&0xC0 == 0x80 }
	for prev := range 256 {
		for cur := range 256 {
			c := utf8Vec[1][prev>>4] & utf8Vec[2][prev&15] & utf8Vec[3][cur>>4]
			pair := []byte{byte(prev), byte(cur)}
			if cur >= 0xC0 {
				pair[1] = map[int]byte{0xC: 0xC2, 0xD: 0xD0, 0xE: 0xE1, 0xF: 0xF1}[cur>>4]
			}
			occurs := false
			for _, before := range []string{"", "\xc2", "\xe1", "\xe1\x80", "\xf1", "\xf1\x80", "\xf1\x80\x80"} {
				for _, after := range []string{"", "\x80", "\x80\x80", "\x80\x80\x80"} {
					occurs = occurs || utf8.Valid([]byte(before+string(pair)+after))
				}
			}
			switch {
			case isCont(prev) && isCont(cur):
				assert.Equal(t, byte(twoConts), c, "%02x %02x", prev, cur)
			case occurs:
				assert.Zero(t, c, "%02x %02x occurs in valid text", prev, cur)
			default:
				assert.NotZero(t, c, "%02x %02x never occurs in valid text", prev, cur)
			}
		}
	}
}
