package wsutil_test

import (
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/sluice-ws/sluice/wsutil"
)

// Samples for the benchmarks, each repeated up to the wanted size.
const (
	utf8SampleASCII = `{"op":"update","id":12345,"text":"The quick brown fox jumps over the lazy dog."} `
	utf8SampleLatin = "Größere Bäume säumen die Straße; naïve façade, À bientôt, señor! "
	utf8SampleCJK   = "日本語のテキストと中文文本，한국어텍스트도섞여있습니다。"
	utf8SampleEmoji = "😀🎉🚀👍🔥🌍💡🤖🎸🍕"
	// utf8SampleMostly is JSON that is ASCII but for a name or two: the
	// common case of chat traffic in a Latin-script language.
	utf8SampleMostly = `{"op":"message","room":"lobby","from":"José","text":"see you at the café at 10"} `
)

// repeatText repeats sample and cuts the result to the last whole character
// within n bytes, so that it stays valid.
func repeatText(sample string, n int) []byte {
	s := strings.Repeat(sample, n/len(sample)+1)[:n]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return []byte(s)
}

var utf8Inputs = []struct {
	name string
	p    []byte
}{
	{"ascii-16B", repeatText(utf8SampleASCII, 16)},
	{"ascii-64B", repeatText(utf8SampleASCII, 64)},
	{"ascii-200B", repeatText(utf8SampleASCII, 200)},
	{"ascii-1KiB", repeatText(utf8SampleASCII, 1<<10)},
	{"ascii-64KiB", repeatText(utf8SampleASCII, 64<<10)},
	{"mostly-200B", repeatText(utf8SampleMostly, 200)},
	{"mostly-1KiB", repeatText(utf8SampleMostly, 1<<10)},
	{"mostly-64KiB", repeatText(utf8SampleMostly, 64<<10)},
	{"latin-1KiB", repeatText(utf8SampleLatin, 1<<10)},
	{"latin-64KiB", repeatText(utf8SampleLatin, 64<<10)},
	{"cjk-16B", repeatText(utf8SampleCJK, 16)},
	{"cjk-1KiB", repeatText(utf8SampleCJK, 1<<10)},
	{"cjk-64KiB", repeatText(utf8SampleCJK, 64<<10)},
	{"emoji-1KiB", repeatText(utf8SampleEmoji, 1<<10)},
	{"emoji-64KiB", repeatText(utf8SampleEmoji, 64<<10)},
}

var utf8Sink bool

// BenchmarkUTF8 compares whole-buffer validation: ValidUTF8 (vector code
// where available), the portable automaton, a single UTF8Validator.Write, and
// utf8.Valid from the standard library.
func BenchmarkUTF8(b *testing.B) {
	for _, in := range utf8Inputs {
		if !utf8.Valid(in.p) {
			b.Fatalf("%s: sample is not valid UTF-8", in.name)
		}
		b.Run(in.name+"/ValidUTF8", func(b *testing.B) {
			b.SetBytes(int64(len(in.p)))
			b.ReportAllocs()
			for b.Loop() {
				utf8Sink = wsutil.ValidUTF8(in.p)
			}
		})
		b.Run(in.name+"/portable", func(b *testing.B) {
			b.SetBytes(int64(len(in.p)))
			b.ReportAllocs()
			for b.Loop() {
				utf8Sink = wsutil.ValidUTF8Go(in.p)
			}
		})
		b.Run(in.name+"/Validator", func(b *testing.B) {
			b.SetBytes(int64(len(in.p)))
			b.ReportAllocs()
			var v wsutil.UTF8Validator
			for b.Loop() {
				v.Reset()
				utf8Sink = v.Write(in.p) && v.Valid()
			}
		})
		b.Run(in.name+"/stdlib", func(b *testing.B) {
			b.SetBytes(int64(len(in.p)))
			b.ReportAllocs()
			for b.Loop() {
				utf8Sink = utf8.Valid(in.p)
			}
		})
	}
}

// BenchmarkUTF8Stream feeds a message to a UTF8Validator in chunks of a fixed
// size, as a reader that gets it in small frames or reads would.
func BenchmarkUTF8Stream(b *testing.B) {
	for _, in := range []struct {
		name string
		p    []byte
	}{
		{"ascii-64KiB", repeatText(utf8SampleASCII, 64<<10)},
		{"latin-64KiB", repeatText(utf8SampleLatin, 64<<10)},
		{"cjk-64KiB", repeatText(utf8SampleCJK, 64<<10)},
	} {
		for _, chunk := range []int{1, 7, 125, 4096} {
			b.Run(in.name+"/chunk-"+strconv.Itoa(chunk), func(b *testing.B) {
				b.SetBytes(int64(len(in.p)))
				b.ReportAllocs()
				var v wsutil.UTF8Validator
				for b.Loop() {
					v.Reset()
					ok := true
					for p := in.p; len(p) > 0 && ok; {
						n := min(chunk, len(p))
						ok = v.Write(p[:n])
						p = p[n:]
					}
					utf8Sink = ok && v.Valid()
				}
			})
		}
	}
}

// BenchmarkUTF8Short covers the short messages of chat-like traffic, where
// set-up costs dominate.
func BenchmarkUTF8Short(b *testing.B) {
	for _, n := range []int{8, 16, 24, 32, 48, 64} {
		for _, s := range []struct{ name, sample string }{{"latin", utf8SampleLatin}, {"cjk", utf8SampleCJK}} {
			p := repeatText(s.sample, n)
			b.Run(s.name+"-"+strconv.Itoa(n)+"B/ValidUTF8", func(b *testing.B) {
				b.SetBytes(int64(len(p)))
				b.ReportAllocs()
				for b.Loop() {
					utf8Sink = wsutil.ValidUTF8(p)
				}
			})
			b.Run(s.name+"-"+strconv.Itoa(n)+"B/stdlib", func(b *testing.B) {
				b.SetBytes(int64(len(p)))
				b.ReportAllocs()
				for b.Loop() {
					utf8Sink = utf8.Valid(p)
				}
			})
		}
	}
}
