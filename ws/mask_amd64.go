//go:build amd64 && !purego && !noasm

package ws

import "golang.org/x/sys/cpu"

// useAVX2 is checked once: x/sys/cpu also confirms that the OS saves the
// YMM registers, which a bare CPUID test would miss.
var useAVX2 = cpu.X86.HasAVX2

// xorAVX2 XORs n bytes at p with key repeated, 32 bytes at a time. n must be
// a multiple of 32.
//
//go:noescape
func xorAVX2(p *byte, n int, key uint64)

func cipher(p []byte, mask [4]byte, offset int) {
	if len(p) < 64 || !useAVX2 {
		cipherWords(p, mask, offset)
		return
	}
	k := offset & 3
	key32 := uint32(mask[k]) | uint32(mask[(k+1)&3])<<8 |
		uint32(mask[(k+2)&3])<<16 | uint32(mask[(k+3)&3])<<24
	n := len(p) &^ 31
	xorAVX2(&p[0], n, uint64(key32)|uint64(key32)<<32)
	cipherWords(p[n:], mask, offset+n)
}
