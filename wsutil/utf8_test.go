package wsutil_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluice-ws/sluice/wsutil"
)

// validUTF8PrefixLen returns the length of the longest prefix of p that is a
// prefix of some valid UTF-8 string: the index of the byte where a validator
// must fail, or len(p) when it must not. It is built on unicode/utf8 only, to
// be independent of the code under test: utf8.FullRune is false exactly for a
// proper prefix of a valid encoding.
func validUTF8PrefixLen(p []byte) int {
	i := 0
	for i < len(p) {
		r, size := utf8.DecodeRune(p[i:])
		if r != utf8.RuneError || size > 1 {
			i += size
			continue
		}
		k := 0
		for j := 1; j <= 3 && i+j <= len(p) && !utf8.FullRune(p[i:i+j]); j++ {
			k = j
		}
		return i + k
	}
	return i
}

// firstUTF8Failure writes p to a new validator one byte at a time and returns the
// index of the first Write that fails, or len(p).
func firstUTF8Failure(p []byte) int {
	var v wsutil.UTF8Validator
	for i := range p {
		if !v.Write(p[i : i+1]) {
			return i
		}
	}
	return len(p)
}

// utf8Impl is one whole-buffer implementation under test.
type utf8Impl struct {
	name  string
	valid func([]byte) bool
}

// utf8Impls returns every whole-buffer implementation: the exported one, the
// portable one, the vector one where the build and the CPU have it, and a
// validator given everything in one Write.
func utf8Impls() []utf8Impl {
	impls := []utf8Impl{
		{"ValidUTF8", wsutil.ValidUTF8},
		{"portable", wsutil.ValidUTF8Go},
		{"Validator", func(p []byte) bool {
			var v wsutil.UTF8Validator
			return v.Write(p) && v.Valid()
		}},
	}
	if wsutil.ValidUTF8SIMD != nil {
		impls = append(impls, utf8Impl{"simd", wsutil.ValidUTF8SIMD})
	}
	return impls
}

// Representatives of every byte class that Table 3-7 distinguishes, with the
// ends of each range.
var utf8ClassBytes = []byte{
	0x00, 0x41, 0x7F, // ASCII
	0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, // continuation ranges
	0xC0, 0xC1, 0xC2, 0xDF, // 2-byte leads, overlong ones first
	0xE0, 0xE1, 0xEC, 0xED, 0xEE, 0xEF, // 3-byte leads
	0xF0, 0xF1, 0xF3, 0xF4, 0xF5, 0xF8, 0xFE, 0xFF, // 4-byte leads, then never valid
}

// checkUTF8 compares every implementation and the fail-fast index with the
// unicode/utf8 references for p.
func checkUTF8(t *testing.T, impls []utf8Impl, p []byte) {
	t.Helper()
	want := utf8.Valid(p)
	for _, im := range impls {
		if im.valid(p) != want {
			require.Equal(t, want, im.valid(p), "%s(% x)", im.name, p)
		}
	}
	if got, want := firstUTF8Failure(p), validUTF8PrefixLen(p); got != want {
		require.Equal(t, want, got, "first failing byte of % x", p)
	}
}

// TestValidUTF8Exhaustive checks every 1- and 2-byte input, every 3-byte
// input whose last byte is a class representative, and every 4-byte input of
// class representatives, against unicode/utf8: the whole-buffer result and
// the first failing byte.
func TestValidUTF8Exhaustive(t *testing.T) {
	t.Parallel()
	impls := utf8Impls()
	for b0 := range 256 {
		checkUTF8(t, impls, []byte{byte(b0)})
		for b1 := range 256 {
			checkUTF8(t, impls, []byte{byte(b0), byte(b1)})
			for _, b2 := range utf8ClassBytes {
				checkUTF8(t, impls, []byte{byte(b0), byte(b1), b2})
			}
		}
	}
	for _, b0 := range utf8ClassBytes {
		for _, b1 := range utf8ClassBytes {
			for _, b2 := range utf8ClassBytes {
				for _, b3 := range utf8ClassBytes {
					checkUTF8(t, impls, []byte{b0, b1, b2, b3})
				}
			}
		}
	}
}

// TestValidUTF8Embedded places short sequences in ASCII at the places where
// the vector code changes lanes or blocks, or handles the start or the end of
// the input, so that every path of it sees every kind of sequence and error.
func TestValidUTF8Embedded(t *testing.T) {
	t.Parallel()
	var seqs [][]byte
	for _, b0 := range utf8ClassBytes {
		for _, b1 := range utf8ClassBytes {
			seqs = append(seqs, []byte{b0, b1})
			if b0 < 0x80 {
				continue
			}
			for _, b2 := range utf8ClassBytes {
				seqs = append(seqs, []byte{b0, b1, b2})
			}
			if b0 >= 0xF0 && b0 <= 0xF5 {
				for _, b2 := range []byte{0x41, 0x80, 0xBF, 0xC2} {
					for _, b3 := range []byte{0x41, 0x80, 0xBF, 0xC2, 0xF0} {
						seqs = append(seqs, []byte{b0, b1, b2, b3})
					}
				}
			}
		}
	}
	// Sizes: the 16..31-byte path, whole blocks, and a last partial block
	// starting 1, 3, 4 and 31 bytes after a whole one (fewer than four
	// predecessors inside the input, or the most).
	type place struct{ size, at int }
	var places []place
	for _, size := range []int{16, 17, 19, 20, 31, 32, 33, 35, 36, 63, 64, 65, 97} {
		ats := map[int]bool{}
		for _, at := range []int{0, 1, 2, 3, 13, 14, 15, 16, 29, 30, 31, 32, 33, 62, 63, 64, 65} {
			ats[at] = true
		}
		for _, o := range []int{size - 16, size - 32} {
			for at := o - 3; at <= o+1; at++ {
				ats[at] = true
			}
		}
		for at := size - 4; at < size; at++ {
			ats[at] = true
		}
		for at := range ats {
			if at >= 0 && at < size {
				places = append(places, place{size, at})
			}
		}
	}
	// The vector code runs in ValidUTF8 from 16 bytes on; the portable
	// code does not care where a sequence sits and is covered elsewhere.
	var impls []utf8Impl
	for _, im := range utf8Impls() {
		if im.name == "ValidUTF8" || im.name == "simd" {
			impls = append(impls, im)
		}
	}
	buf := make([]byte, 128)
	for _, pl := range places {
		p := buf[:pl.size]
		for i := range p {
			p[i] = 'a'
		}
		for _, seq := range seqs {
			n := copy(p[pl.at:], seq) // cut short at the end of p
			// ASCII around a sequence does not change its validity.
			want := utf8.Valid(seq[:n])
			for _, im := range impls {
				if im.valid(p) != want {
					require.Equal(t, want, im.valid(p), "%s: % x at %d of %d", im.name, seq, pl.at, pl.size)
				}
			}
			copy(p[pl.at:pl.at+n], "aaaa")
		}
	}
}

// TestValidUTF8ASCIIRuns puts a sequence, valid or not, after an ASCII run
// of every length from 0 to 300 and before ASCII up to lengths that are
// multiples of the word, block and four-block sizes, and one past them: the
// ASCII skips (eight words in Go, four blocks in the vector code) must stop
// on the sequence wherever it lands, a sequence must be checked whole when it
// straddles a word or block boundary, and the skips must not run past the
// end. The validator gets each input whole and in two parts cut around the
// sequence.
func TestValidUTF8ASCIIRuns(t *testing.T) {
	t.Parallel()
	impls := utf8Impls()
	seqs := []string{
		"\xff", "\x80", "\xc0\xaf", "\xc3", "\xe2\x82", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xf0\x9f\x98",
		"é", "€", "😀", "\U0010FFFF", "éé", "😀\x80",
	}
	ends := []int{8, 9, 16, 17, 32, 33, 64, 65, 96, 128, 129, 160, 161, 192, 256, 257, 300, 320}
	backing := make([]byte, 340+64)
	var v wsutil.UTF8Validator
	for run := 0; run <= 300; run++ {
		for _, seq := range seqs {
			for _, end := range append(ends, run+len(seq), run+len(seq)+1) {
				if end < run+len(seq) {
					continue
				}
				// Vary the alignment of the input with the run.
				off := run % 64
				p := backing[off : off+end]
				for i := range p {
					p[i] = 'a' + byte(i%26)
				}
				copy(p[run:], seq)
				checkUTF8Fast(t, impls, p)
				fail := validUTF8PrefixLen(p)
				for _, k := range []int{run - 1, run, run + 1, run + len(seq)} {
					if k < 0 || k > len(p) {
						continue
					}
					v.Reset()
					ok1 := v.Write(p[:k])
					ok2 := v.Write(p[k:])
					if ok1 != (k <= fail) || ok2 != (fail == len(p)) {
						require.Failf(t, "validator disagrees", "% x split at %d: writes %v, %v; first failing byte %d",
							p, k, ok1, ok2, fail)
					}
					require.Equal(t, utf8.Valid(p), v.Valid(), "Valid after % x split at %d", p, k)
				}
			}
		}
	}
}

// TestValidUTF8InterruptedSequence breaks a sequence with an ASCII run: text
// with a lead byte (or two bytes of a longer sequence), ASCII, then the
// continuation bytes that would have completed it. An ASCII skip taken while
// a sequence is open would join the two halves and accept the text. The
// multi-byte text before the lead moves it across word and block
// boundaries. The text around is ASCII or more multi-byte text, and puts the
// sequence in the first or the second half of the input: the portable code
// checks the halves side by side, and the other half must still be busy when
// one meets the ASCII run.
func TestValidUTF8InterruptedSequence(t *testing.T) {
	t.Parallel()
	impls := utf8Impls()
	var v wsutil.UTF8Validator
	for _, lead := range []string{"\xc3", "\xe2", "\xe2\x82", "\xf0", "\xf0\x9f", "\xf0\x9f\x98"} {
		need := 2 // the length of the sequence lead starts
		if lead[0] >= 0xF0 {
			need = 4
		} else if lead[0] >= 0xE0 {
			need = 3
		}
		broken := func(run int) string {
			return lead + strings.Repeat("a", run) + "\xa9\x80\x80"[:need-len(lead)]
		}
		for _, dense := range []string{"é", "日", "😀"} {
			pads := []struct{ before, after string }{
				{"", strings.Repeat("z", 150)},
				{"", strings.Repeat(dense, 150/len(dense))},
				{strings.Repeat(dense, 300/len(dense)), strings.Repeat(dense, 150/len(dense))},
			}
			for pre := 0; pre <= 40; pre += len(dense) {
				for run := 1; run <= 40; run++ {
					for _, pad := range pads {
						p := []byte(pad.before + strings.Repeat(dense, pre/len(dense)) + broken(run) + pad.after)
						require.False(t, utf8.Valid(p))
						checkUTF8Fast(t, impls, p)
						v.Reset()
						assert.False(t, v.Write(p) && v.Valid(), "Write(% x)", p)
					}
				}
			}
		}
	}
}

// checkUTF8Fast is checkUTF8 without the byte-at-a-time validator, for tests
// that run it on many long inputs.
func checkUTF8Fast(t *testing.T, impls []utf8Impl, p []byte) {
	t.Helper()
	want := utf8.Valid(p)
	for _, im := range impls {
		if im.valid(p) != want {
			require.Equal(t, want, im.valid(p), "%s(% x)", im.name, p)
		}
	}
}

// randomUTF8 returns n bytes of random valid UTF-8 (cut at the end, so
// possibly with an open sequence), weighted toward multi-byte characters.
func randomUTF8(rng *rand.Rand, n int) []byte {
	p := make([]byte, 0, n+4)
	for len(p) < n {
		var r rune
		switch rng.IntN(6) {
		case 0:
			r = rune(rng.IntN(0x80))
		case 1:
			r = rune(0x80 + rng.IntN(0x800-0x80))
		case 2:
			r = rune(0x800 + rng.IntN(0xD800-0x800))
		case 3:
			r = rune(0xE000 + rng.IntN(0x10000-0xE000))
		case 4:
			r = rune(0x10000 + rng.IntN(0x110000-0x10000))
		default:
			r = []rune{0x7F, 0x80, 0x7FF, 0x800, 0xD7FF, 0xE000, 0xFFFD, 0xFFFE, 0xFFFF, 0x10000, 0x10FFFF}[rng.IntN(11)]
		}
		p = utf8.AppendRune(p, r)
	}
	return p[:n]
}

// corruptText damages p in one of the ways a peer could: a random byte, a byte
// from the class table, a removed or duplicated byte.
func corruptText(rng *rand.Rand, p []byte) []byte {
	if len(p) == 0 {
		return append(p, utf8ClassBytes[rng.IntN(len(utf8ClassBytes))])
	}
	i := rng.IntN(len(p))
	switch rng.IntN(4) {
	case 0:
		p[i] = byte(rng.Uint32())
	case 1:
		p[i] = utf8ClassBytes[rng.IntN(len(utf8ClassBytes))]
	case 2:
		p = append(p[:i], p[i+1:]...)
	default:
		p = append(p[:i+1], p[i:]...)
	}
	return p
}

// TestValidUTF8Agreement checks all implementations against utf8.Valid on
// random text, valid and damaged, at every length up to 300 bytes and every
// start alignment within 32 bytes, and every 4 KiB length (as in a large
// frame) more sparsely.
func TestValidUTF8Agreement(t *testing.T) {
	t.Parallel()
	impls := utf8Impls()
	rng := rand.New(rand.NewPCG(3, 4))
	backing := make([]byte, 8192+64)
	check := func(n, align int) {
		p := randomUTF8(rng, n)
		if rng.IntN(2) == 0 {
			p = corruptText(rng, p)
		}
		q := backing[align : align+len(p)]
		copy(q, p)
		checkUTF8(t, impls, q)
	}
	for n := 0; n <= 300; n++ {
		for align := range 32 {
			for range 4 {
				check(n, align)
			}
		}
	}
	for range 300 {
		check(rng.IntN(8192), rng.IntN(64))
	}
}

// utf8AutobahnCases are the UTF-8 cases of the Autobahn testsuite (section 6)
// and the edges of Table 3-7. fail is the index of the byte where a
// validator must fail, -1 for none; a case with fail == -1 may still be an
// unfinished sequence (valid false).
var utf8AutobahnCases = []struct {
	name  string
	in    string
	fail  int
	valid bool
}{
	{"empty", "", -1, true},
	{"kosme", "κόσμε", -1, true},
	{"kosme then surrogate", "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80\x65\x64\x69\x74\x65\x64", 12, false},
	{"nul", "\x00", -1, true},
	{"U+007F", "\x7f", -1, true},
	{"U+0080", "\xc2\x80", -1, true},
	{"U+07FF", "\xdf\xbf", -1, true},
	{"U+0800", "\xe0\xa0\x80", -1, true},
	{"U+D7FF", "\xed\x9f\xbf", -1, true},
	{"U+E000", "\xee\x80\x80", -1, true},
	{"U+FFFD", "\xef\xbf\xbd", -1, true},
	{"U+FFFE noncharacter", "\xef\xbf\xbe", -1, true},
	{"U+FFFF noncharacter", "\xef\xbf\xbf", -1, true},
	{"BOM", "\xef\xbb\xbf", -1, true},
	{"U+10000", "\xf0\x90\x80\x80", -1, true},
	{"emoji", "😀", -1, true},
	{"U+10FFFF", "\xf4\x8f\xbf\xbf", -1, true},
	{"U+110000", "\xf4\x90\x80\x80", 1, false},
	{"F4 90 alone", "\xf4\x90", 1, false},
	{"F5", "\xf5\x80\x80\x80", 0, false},
	{"F8 5-byte", "\xf8\x88\x80\x80\x80", 0, false},
	{"FC 6-byte", "\xfc\x84\x80\x80\x80\x80", 0, false},
	{"FE", "\xfe", 0, false},
	{"FF", "\xff", 0, false},
	{"FE FE FF FF", "\xfe\xfe\xff\xff", 0, false},
	{"lone continuation 80", "\x80", 0, false},
	{"lone continuation BF", "\xbf", 0, false},
	{"continuation after ASCII", "a\x80", 1, false},
	{"extra continuation", "\xc2\x80\x80", 2, false},
	{"extra continuation after emoji", "\xf0\x9f\x98\x80\x80", 4, false},
	{"overlong slash C0 AF", "\xc0\xaf", 0, false},
	{"overlong C1 BF", "\xc1\xbf", 0, false},
	{"overlong slash E0 80 AF", "\xe0\x80\xaf", 1, false},
	{"overlong E0 9F BF", "\xe0\x9f\xbf", 1, false},
	{"overlong slash F0 80 80 AF", "\xf0\x80\x80\xaf", 1, false},
	{"overlong F0 8F BF BF", "\xf0\x8f\xbf\xbf", 1, false},
	{"overlong slash F8", "\xf8\x80\x80\x80\xaf", 0, false},
	{"surrogate D800", "\xed\xa0\x80", 1, false},
	{"surrogate DFFF", "\xed\xbf\xbf", 1, false},
	{"surrogate pair", "\xed\xa0\x80\xed\xb0\x80", 1, false},
	{"lead then ASCII", "\xc2\x41", 1, false},
	{"3-byte lead then ASCII", "\xe1\x80\x41", 2, false},
	{"4-byte lead then lead", "\xf0\x9f\xf0", 2, false},
	{"open 2-byte", "\xc2", -1, false},
	{"open 3-byte", "\xe0\xa0", -1, false},
	{"open 4-byte", "\xf0\x9f\x98", -1, false},
	{"open after text", "κόσμε\xf0\x9f", -1, false},
	{"invalid after open", "\xf0\x9f\x98\x41", 3, false},
}

// TestUTF8ValidatorFailFast feeds each case one byte at a time, whole, split
// in two at every point, and surrounded by ASCII (so that the vector code
// runs), and checks where the validator fails.
func TestUTF8ValidatorFailFast(t *testing.T) {
	t.Parallel()
	for _, tc := range utf8AutobahnCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := []byte(tc.in)
			require.Equal(t, tc.valid, utf8.Valid(p), "case disagrees with unicode/utf8")
			fail := tc.fail
			if fail < 0 {
				fail = len(p)
			}
			require.Equal(t, fail, validUTF8PrefixLen(p), "case disagrees with the reference")

			assert.Equal(t, fail, firstUTF8Failure(p), "byte at a time")
			assert.Equal(t, tc.valid, wsutil.ValidUTF8(p), "ValidUTF8")

			var v wsutil.UTF8Validator
			assert.Equal(t, tc.fail < 0, v.Write(p), "whole")
			assert.Equal(t, tc.valid, v.Valid(), "Valid after whole")

			for k := 0; k <= len(p); k++ {
				v.Reset()
				assert.Equal(t, k <= fail, v.Write(p[:k]), "first part of split at %d", k)
				assert.Equal(t, tc.fail < 0, v.Write(p[k:]), "second part of split at %d", k)
				assert.Equal(t, tc.valid, v.Valid(), "Valid after split at %d", k)
			}

			pad := strings.Repeat("x", 40)
			long := []byte(pad + tc.in + pad)
			// An open sequence followed by ASCII is invalid too.
			assert.Equal(t, tc.valid, wsutil.ValidUTF8(long), "ValidUTF8 padded")
			v.Reset()
			assert.Equal(t, tc.valid, v.Write(long) && v.Valid(), "Write padded")
			assert.Equal(t, len(pad)+fail, firstUTF8Failure([]byte(pad+tc.in)), "byte at a time after ASCII")
		})
	}
}

// TestUTF8ValidatorSticky checks that a failed validator keeps failing, even
// on valid input, until Reset.
func TestUTF8ValidatorSticky(t *testing.T) {
	t.Parallel()
	var v wsutil.UTF8Validator
	require.False(t, v.Write([]byte("ok \xff")))
	assert.False(t, v.Write([]byte("fine")))
	assert.False(t, v.Write(nil))
	assert.False(t, v.Valid())
	v.Reset()
	assert.True(t, v.Write([]byte("fine")))
	assert.True(t, v.Valid())
}

// TestUTF8ValidatorReset checks that Reset forgets an open sequence as well
// as a failure.
func TestUTF8ValidatorReset(t *testing.T) {
	t.Parallel()
	var v wsutil.UTF8Validator
	require.True(t, v.Write([]byte("\xe2\x82"))) // first two bytes of €
	require.False(t, v.Valid())
	v.Reset()
	assert.True(t, v.Valid(), "empty message after Reset")
	assert.False(t, v.Write([]byte("\xac")), "the rest of € without its start")
}

// TestUTF8ValidatorZeroValue checks that the zero value is an empty, valid
// message and that empty writes change nothing.
func TestUTF8ValidatorZeroValue(t *testing.T) {
	t.Parallel()
	var v wsutil.UTF8Validator
	assert.True(t, v.Valid())
	assert.True(t, v.Write(nil))
	assert.True(t, v.Write([]byte{}))
	assert.True(t, v.Valid())
	require.True(t, v.Write([]byte("\xf0")))
	assert.True(t, v.Write(nil), "empty write with an open sequence")
	assert.False(t, v.Valid())
}

// TestUTF8ValidatorSplits writes valid texts split at every byte boundary
// into two parts, one byte at a time, and in random chunks; each must stay
// valid. Cutting the text short must be reported by Valid exactly when the
// cut falls inside a character.
func TestUTF8ValidatorSplits(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(5, 6))
	texts := map[string][]byte{
		"kosme":  []byte("κόσμε"),
		"mixed":  []byte("ASCII, Größe, 日本語, 한국어, emoji 😀🎉 and U+10FFFF \U0010FFFF."),
		"cjk":    []byte(strings.Repeat("日本語のテキスト", 12)),
		"emoji":  []byte(strings.Repeat("😀🎉🚀", 11)),
		"random": randomUTF8(rng, 700),
	}
	texts["random"] = texts["random"][:completeUTF8PrefixLen(texts["random"])]
	for name, p := range texts {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			require.True(t, utf8.Valid(p))
			var v wsutil.UTF8Validator
			for k := 0; k <= len(p); k++ {
				v.Reset()
				require.True(t, v.Write(p[:k]), "first part of split at %d", k)
				assert.Equal(t, utf8.Valid(p[:k]), v.Valid(), "Valid after a cut at %d", k)
				require.True(t, v.Write(p[k:]), "second part of split at %d", k)
				require.True(t, v.Valid(), "Valid after split at %d", k)
			}
			v.Reset()
			for i := range p {
				require.True(t, v.Write(p[i:i+1]), "byte %d", i)
			}
			assert.True(t, v.Valid(), "one byte at a time")
			// A generator per subtest: they run in parallel.
			rng := rand.New(rand.NewPCG(uint64(len(p)), 7))
			for range 50 {
				v.Reset()
				for q := p; len(q) > 0; {
					n := min(1+rng.IntN(70), len(q))
					require.True(t, v.Write(q[:n]))
					q = q[n:]
				}
				assert.True(t, v.Valid(), "random chunks")
			}
		})
	}
}

// completeUTF8PrefixLen returns the length of the longest prefix of p that
// ends between characters, for a p that is a valid prefix.
func completeUTF8PrefixLen(p []byte) int {
	n := len(p)
	for n > 0 && !utf8.Valid(p[:n]) {
		n--
	}
	return n
}

// TestUTF8ValidatorChunks checks damaged random text written in random
// chunks: the first failing Write is the one that holds the first byte with
// no valid completion, and Valid agrees with utf8.Valid at the end.
func TestUTF8ValidatorChunks(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(7, 8))
	for range 3000 {
		p := randomUTF8(rng, rng.IntN(400))
		for range rng.IntN(3) {
			p = corruptText(rng, p)
		}
		fail := validUTF8PrefixLen(p)
		var v wsutil.UTF8Validator
		off := 0
		for off < len(p) {
			n := min(1+rng.IntN(80), len(p)-off)
			ok := v.Write(p[off : off+n])
			off += n
			if !ok {
				break
			}
		}
		if fail < len(p) {
			// The failing chunk is the one that holds byte fail.
			require.Less(t, fail, off, "failed late on % x", p)
			require.GreaterOrEqual(t, fail, off-80, "failed early on % x", p)
		}
		require.Equal(t, utf8.Valid(p), v.Valid(), "% x", p)
	}
}

func ExampleUTF8Validator() {
	// A text message arrives in three frames; the 4-byte "😀" is split
	// across them.
	frames := [][]byte{[]byte("hi \xf0\x9f"), []byte("\x98"), []byte("\x80!")}
	var v wsutil.UTF8Validator
	for _, f := range frames {
		fmt.Println(v.Write(f))
	}
	fmt.Println(v.Valid())

	// A surrogate is rejected at its second byte, before the frame that
	// would complete it.
	v.Reset()
	fmt.Println(v.Write([]byte("\xed")), v.Write([]byte("\xa0")))
	// Output:
	// true
	// true
	// true
	// true
	// true false
}

func ExampleValidUTF8() {
	fmt.Println(wsutil.ValidUTF8([]byte("κόσμε")))
	fmt.Println(wsutil.ValidUTF8([]byte("\xc0\xaf"))) // overlong "/"
	// Output:
	// true
	// false
}
