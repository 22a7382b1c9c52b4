package wsutil_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/sluice-ws/sluice/wsutil"
)

// FuzzUTF8 checks the validator on arbitrary bytes written in two parts cut
// at an arbitrary point, and the whole-buffer implementations, against
// unicode/utf8: every answer must match utf8.Valid, and a Write must fail
// exactly when its part takes the stream past the longest prefix that some
// valid string starts with.
func FuzzUTF8(f *testing.F) {
	for _, tc := range utf8AutobahnCases {
		f.Add([]byte(tc.in), uint16(len(tc.in)/2))
		f.Add([]byte(strings.Repeat("x", 30)+tc.in+strings.Repeat("y", 30)), uint16(31))
	}
	f.Add([]byte(strings.Repeat("日本語", 20)+"\xed\xa0\x80"), uint16(7))
	f.Add([]byte(strings.Repeat("😀", 20)+"\xf0\x9f\x98"), uint16(64))
	// Long ASCII runs, for the ASCII skips: a bad byte after four blocks,
	// a character straddling a block, a sequence broken by ASCII.
	f.Add([]byte(strings.Repeat("a", 200)+"\xff"), uint16(100))
	f.Add([]byte(strings.Repeat("a", 127)+"é"+strings.Repeat("b", 70)), uint16(128))
	f.Add([]byte(strings.Repeat("日", 7)+"\xf0\x9f\x98"+strings.Repeat("a", 8)+"\xa9"+strings.Repeat("z", 150)), uint16(30))
	f.Fuzz(func(t *testing.T, p []byte, split uint16) {
		want := utf8.Valid(p)
		for _, im := range utf8Impls() {
			if got := im.valid(p); got != want {
				t.Fatalf("%s(% x) = %v, want %v", im.name, p, got, want)
			}
		}

		ref := validUTF8PrefixLen(p)
		k := int(split) % (len(p) + 1)
		var v wsutil.UTF8Validator
		if got := v.Write(p[:k]); got != (k <= ref) {
			t.Fatalf("Write(% x) = %v, want %v (longest valid prefix %d)", p[:k], got, k <= ref, ref)
		}
		if got := v.Write(p[k:]); got != (ref == len(p)) {
			t.Fatalf("Write(% x) after % x = %v, want %v (longest valid prefix %d)", p[k:], p[:k], got, ref == len(p), ref)
		}
		if got := v.Valid(); got != want {
			t.Fatalf("Valid() after % x = %v, want %v", p, got, want)
		}
		if got := firstUTF8Failure(p); got != ref {
			t.Fatalf("first failing byte of % x: %d, want %d", p, got, ref)
		}
	})
}
