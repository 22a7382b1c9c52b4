package ws

import (
	"crypto/rand"
	"encoding/binary"
)

// Cipher applies the masking of RFC 6455 §5.3 to payload in place: byte i is
// XORed with mask[(offset+i)%4]. Masking and unmasking are the same
// operation. offset is the position of payload[0] within the frame's
// payload, so a payload that arrives in pieces can be unmasked piece by
// piece: call Cipher on each piece with offset advanced by the bytes already
// processed.
//
// Cipher works eight bytes at a time and never allocates.
func Cipher(payload []byte, mask [4]byte, offset int) {
	if len(payload) < 64 {
		// Short payloads are not worth a vector setup.
		cipherWords(payload, mask, offset)
		return
	}
	cipher(payload, mask, offset)
}

// cipherBytes is the byte-at-a-time reference implementation of Cipher. It
// is always compiled, for the tests that check the fast path against it.
func cipherBytes(payload []byte, mask [4]byte, offset int) {
	for i := range payload {
		payload[i] ^= mask[(offset+i)&3]
	}
}

// cipherWords is the portable word-at-a-time implementation. The
// encoding/binary loads and stores compile to single unaligned 64-bit moves
// on amd64 and arm64, so it needs no unsafe.
func cipherWords(p []byte, mask [4]byte, offset int) {
	if len(p) < 8 {
		cipherBytes(p, mask, offset)
		return
	}
	k := offset & 3
	// key is the mask rotated so that its first byte applies to p[0].
	key32 := uint32(mask[k]) | uint32(mask[(k+1)&3])<<8 |
		uint32(mask[(k+2)&3])<<16 | uint32(mask[(k+3)&3])<<24
	key := uint64(key32) | uint64(key32)<<32
	for len(p) >= 32 {
		v0 := binary.LittleEndian.Uint64(p[0:8])
		v1 := binary.LittleEndian.Uint64(p[8:16])
		v2 := binary.LittleEndian.Uint64(p[16:24])
		v3 := binary.LittleEndian.Uint64(p[24:32])
		binary.LittleEndian.PutUint64(p[0:8], v0^key)
		binary.LittleEndian.PutUint64(p[8:16], v1^key)
		binary.LittleEndian.PutUint64(p[16:24], v2^key)
		binary.LittleEndian.PutUint64(p[24:32], v3^key)
		p = p[32:]
	}
	for len(p) >= 8 {
		binary.LittleEndian.PutUint64(p, binary.LittleEndian.Uint64(p)^key)
		p = p[8:]
	}
	// Every step above consumed a multiple of 4 bytes, so the rotation k
	// still holds for the tail.
	for i := range p {
		p[i] ^= byte(key >> (8 * uint(i&3)))
	}
}

// NewMask returns a masking key from crypto/rand, for callers that build
// client frames by hand. wsutil.Writer draws its keys from a faster
// generator seeded from crypto/rand.
func NewMask() (m [4]byte) {
	_, _ = rand.Read(m[:]) // crypto/rand.Read never returns an error
	return m
}
