package ws

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestCipherAgreesWithReference checks the fast path (assembly where the
// build has it) and the portable word path against the byte loop for every
// length up to 1 KiB, every offset and every start alignment.
func TestCipherAgreesWithReference(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	src := make([]byte, 1024+8)
	for i := range src {
		src[i] = byte(rng.Uint32())
	}
	impls := map[string]func([]byte, [4]byte, int){"Cipher": Cipher, "cipherWords": cipherWords}
	want := make([]byte, len(src))
	got := make([]byte, len(src))
	for name, impl := range impls {
		for n := 0; n <= 1024; n++ {
			for align := 0; align < 8; align++ {
				for off := 0; off < 4; off++ {
					var mask [4]byte
					for i := range mask {
						mask[i] = byte(rng.Uint32())
					}
					copy(want, src)
					copy(got, src)
					cipherBytes(want[align:align+n], mask, off)
					impl(got[align:align+n], mask, off)
					if string(want) != string(got) {
						require.Equal(t, want, got, "%s n=%d align=%d off=%d", name, n, align, off)
					}
				}
			}
		}
	}
}

func TestCipherInvolution(t *testing.T) {
	t.Parallel()
	p := []byte("The quick brown fox jumps over the lazy dog, twice over.")
	orig := string(p)
	mask := [4]byte{0xde, 0xad, 0xbe, 0xef}
	Cipher(p, mask, 0)
	require.NotEqual(t, orig, string(p))
	// Unmask in pieces with advancing offsets.
	Cipher(p[:7], mask, 0)
	Cipher(p[7:40], mask, 7)
	Cipher(p[40:], mask, 40)
	require.Equal(t, orig, string(p))
}

// TestCipherRFCExample checks the masked "Hello" of RFC 6455 §5.7.
func TestCipherRFCExample(t *testing.T) {
	t.Parallel()
	p := []byte("Hello")
	Cipher(p, [4]byte{0x37, 0xfa, 0x21, 0x3d}, 0)
	require.Equal(t, []byte{0x7f, 0x9f, 0x4d, 0x51, 0x58}, p)
}

func TestNewMaskVaries(t *testing.T) {
	t.Parallel()
	seen := map[[4]byte]bool{}
	for range 64 {
		seen[NewMask()] = true
	}
	// 64 draws of 32 random bits colliding down to a handful is
	// astronomically unlikely; a constant mask gives 1.
	require.Greater(t, len(seen), 60)
}
