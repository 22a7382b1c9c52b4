package wsflate_test

import (
	"bufio"
	"bytes"
	stdflate "compress/flate"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"

	"github.com/gobwas/httphead"
	"github.com/klauspost/compress/flate"
	"github.com/sluice-ws/sluice/ws"
	"github.com/sluice-ws/sluice/wsflate"
	"github.com/stretchr/testify/require"
)

// benchJSON returns n distinct JSON-like messages of about 1 KiB, as a chat
// or market-data server sends: the same keys, varying values.
func benchJSON(n int) [][]byte {
	rng := rand.New(rand.NewPCG(1, 1))
	users := []string{"alice", "bob", "carol", "dave", "erin", "frank"}
	words := strings.Fields("the quick brown fox jumps over the lazy dog while sluice streams compressed websocket messages to every connected client")
	msgs := make([][]byte, n)
	for i := range msgs {
		var b []byte
		b = append(b, `{"type":"batch","seq":`...)
		b = fmt.Appendf(b, "%d,\"events\":[", i)
		for j := 0; len(b) < 1000; j++ {
			if j > 0 {
				b = append(b, ',')
			}
			b = fmt.Appendf(b, `{"id":%d,"user":"%s","ts":%d,"price":%d.%02d,"text":"%s %s %s"}`,
				rng.IntN(1e6), users[rng.IntN(len(users))], 1700000000+rng.IntN(1e6), rng.IntN(1000), rng.IntN(100),
				words[rng.IntN(len(words))], words[rng.IntN(len(words))], words[rng.IntN(len(words))])
		}
		msgs[i] = append(b, "]}"...)
	}
	return msgs
}

// benchText returns n distinct messages of 64 KiB of text.
func benchText(n int) [][]byte {
	msgs := make([][]byte, n)
	for i := range msgs {
		msgs[i] = text(64<<10, uint64(i))
	}
	return msgs
}

// counter counts the bytes written to it.
type counter int64

func (c *counter) Write(p []byte) (int, error) { *c += counter(len(p)); return len(p), nil }

var benchSizes = []struct {
	name string
	msgs func() [][]byte
}{
	{"1KiB-json", func() [][]byte { return benchJSON(256) }},
	{"64KiB-text", func() [][]byte { return benchText(8) }},
}

var benchModes = []struct {
	name string
	e    wsflate.Extension
}{
	{"no-takeover", wsflate.Extension{ServerNoContextTakeover: true, Threshold: -1}},
	{"takeover", wsflate.Extension{Threshold: -1}},
	{"takeover-keep", wsflate.Extension{Threshold: -1, KeepCompressor: true}},
	{"takeover-bits10", wsflate.Extension{ServerMaxWindowBits: 10, Threshold: -1}},
}

// BenchmarkCompress compresses messages as a server sends them, each
// through NextWriter, Write and Finish. ratio is compressed/plain size.
func BenchmarkCompress(b *testing.B) {
	for _, size := range benchSizes {
		msgs := size.msgs()
		for _, mode := range benchModes {
			b.Run(size.name+"/"+mode.name, func(b *testing.B) {
				s := bind(b, ws.ServerSide, &mode.e)
				var out, in counter
				b.SetBytes(int64(len(msgs[0])))
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					m := msgs[i%len(msgs)]
					i++
					enc, _ := s.NextWriter(&out, -1)
					_, _ = enc.Write(m)
					if err := enc.Finish(); err != nil {
						b.Fatal(err)
					}
					in += counter(len(m))
				}
				b.ReportMetric(float64(out)/float64(in), "ratio")
			})
		}
	}
}

// BenchmarkDecompress inflates messages as a client receives them, each
// through NextReader and Read. With context takeover the stream of
// messages is replayed on a fresh Receiver, made off the clock, when it
// runs out.
func BenchmarkDecompress(b *testing.B) {
	for _, size := range benchSizes {
		msgs := size.msgs()
		for _, mode := range benchModes[:2] {
			b.Run(size.name+"/"+mode.name, func(b *testing.B) {
				s := bind(b, ws.ServerSide, &mode.e)
				payloads := make([][]byte, len(msgs))
				for i, m := range msgs {
					payloads[i] = compress(b, s, m, -1)
				}
				p := wsflate.Params{ServerNoContextTakeover: mode.e.ServerNoContextTakeover}
				newReceiver := func() wsflate.Receiver {
					r, _, err := (&wsflate.Extension{}).Bind(ws.ClientSide, []httphead.Option{p.Option()})
					require.NoError(b, err)
					return r
				}
				r := newReceiver()
				buf := make([]byte, 32<<10)
				var src bytes.Reader
				h := ws.Header{Fin: true, Rsv: ws.Rsv1, OpCode: ws.OpText}
				b.SetBytes(int64(len(msgs[0])))
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					if i == len(payloads) {
						b.StopTimer()
						i = 0
						r = newReceiver()
						b.StartTimer()
					}
					src.Reset(payloads[i])
					i++
					dec, _ := r.NextReader(h, &src)
					for {
						_, err := dec.Read(buf)
						if err == io.EOF {
							break
						}
						if err != nil {
							b.Fatal(err)
						}
					}
				}
			})
		}
	}
}

// BenchmarkAppendCompress is the one-shot helper, as a broadcast uses it.
func BenchmarkAppendCompress(b *testing.B) {
	msg := benchJSON(1)[0]
	dst := make([]byte, 0, 4096)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		dst, _ = wsflate.AppendCompress(dst[:0], msg, 0, 0)
	}
}

// BenchmarkAppendDecompress is the one-shot inflater.
func BenchmarkAppendDecompress(b *testing.B) {
	msg := benchJSON(1)[0]
	p, err := wsflate.AppendCompress(nil, msg, 0, 0)
	require.NoError(b, err)
	dst := make([]byte, 0, 4096)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		dst, _ = wsflate.AppendDecompress(dst[:0], p, 1<<20)
	}
}

// BenchmarkNegotiate is a server answering a browser's offer.
func BenchmarkNegotiate(b *testing.B) {
	offer := option(b, "permessage-deflate; client_max_window_bits")
	e := &wsflate.Extension{ClientMaxWindowBits: 12}
	b.ReportAllocs()
	for b.Loop() {
		_, _ = e.Negotiate(offer)
	}
}

// heapInUse returns the live heap after two collections.
func heapInUse() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// perConn measures the heap that conns connection states retain, each made
// by mk after it has handled one message, and returns bytes per state.
func perConn(conns int, mk func() any) float64 {
	keep := make([]any, conns)
	before := heapInUse()
	for i := range keep {
		keep[i] = mk()
	}
	after := heapInUse()
	runtime.KeepAlive(keep)
	return float64(int64(after)-int64(before)) / float64(conns)
}

// BenchmarkIdleConnMemory measures the heap each idle connection retains
// with context takeover, per window size, after it has compressed or
// inflated one 64 KiB message (enough to fill any window), for wsflate
// and for the alternative of keeping live compressor state per connection,
// with klauspost's flate and with compress/flate (which cannot bound its
// window). The per-op time is meaningless: read B/conn.
func BenchmarkIdleConnMemory(b *testing.B) {
	const conns = 1000
	msg := text(64<<10, 7)
	payload, err := wsflate.AppendCompress(nil, msg, 0, 0)
	require.NoError(b, err)
	for bits := wsflate.MinWindowBits; bits <= wsflate.MaxWindowBits; bits++ {
		offer := wsflate.Params{ServerMaxWindowBits: bits, ClientMaxWindowBits: bits}.Option()
		bench := func(name string, mk func() any) {
			b.Run(fmt.Sprintf("%s/bits=%d", name, bits), func(b *testing.B) {
				v := perConn(conns, mk)
				for b.Loop() {
				}
				b.ReportMetric(v, "B/conn") // after the loop, which resets metrics
			})
		}
		bench("compress/wsflate", func() any {
			_, s, _ := (&wsflate.Extension{Threshold: -1}).Bind(ws.ServerSide, []httphead.Option{offer})
			compress(b, s, msg, -1)
			return s
		})
		bench("compress/wsflate-keep", func() any {
			_, s, _ := (&wsflate.Extension{Threshold: -1, KeepCompressor: true}).Bind(ws.ServerSide, []httphead.Option{offer})
			compress(b, s, msg, -1)
			return s
		})
		bench("compress/klauspost-live", func() any {
			var w *flate.Writer
			if bits < wsflate.MaxWindowBits {
				w, _ = flate.NewWriterWindow(io.Discard, 1<<bits)
			} else {
				w, _ = flate.NewWriter(io.Discard, flate.BestSpeed)
			}
			_, _ = w.Write(msg)
			_ = w.Flush()
			return w
		})
		bench("compress/stdlib-live", func() any {
			w, _ := stdflate.NewWriter(io.Discard, stdflate.BestSpeed)
			_, _ = w.Write(msg)
			_ = w.Flush()
			return w
		})
		// A bits-bit sender's stream inflates in any receiver; the
		// payload's window does not change what the receiver keeps.
		bench("decompress/wsflate", func() any {
			e := &wsflate.Extension{ServerMaxWindowBits: bits, ClientMaxWindowBits: bits}
			r, _, err := e.Bind(ws.ClientSide, []httphead.Option{offer})
			if err != nil {
				b.Fatal(err)
			}
			got, err := decompress(b, r, payload)
			if err != nil || len(got) != len(msg) {
				b.Fatal(err)
			}
			return r
		})
		bench("decompress/klauspost-live", func() any {
			fr := flate.NewReader(bufio.NewReader(io.MultiReader(bytes.NewReader(payload), bytes.NewReader([]byte{0, 0, 0xff, 0xff}))))
			_, _ = io.CopyN(io.Discard, fr, int64(len(msg)))
			return fr
		})
		bench("decompress/stdlib-live", func() any {
			fr := stdflate.NewReader(bufio.NewReader(io.MultiReader(bytes.NewReader(payload), bytes.NewReader([]byte{0, 0, 0xff, 0xff}))))
			_, _ = io.CopyN(io.Discard, fr, int64(len(msg)))
			return fr
		})
	}
}

// BenchmarkFlateImpl compares the two flate implementations wsflate could
// build on, on one message without context takeover, level 1: the choice
// of klauspost's rests on it, on the memory in BenchmarkIdleConnMemory,
// and on its window-bounded encoder, which compress/flate lacks.
func BenchmarkFlateImpl(b *testing.B) {
	for _, size := range benchSizes {
		msg := size.msgs()[0]
		var payload bytes.Buffer
		kw, _ := flate.NewWriter(&payload, flate.BestSpeed)
		_, _ = kw.Write(msg)
		_ = kw.Flush()
		p := payload.Bytes()
		b.Run(size.name+"/deflate/klauspost", func(b *testing.B) {
			w, _ := flate.NewWriter(io.Discard, flate.BestSpeed)
			b.SetBytes(int64(len(msg)))
			b.ReportAllocs()
			for b.Loop() {
				w.Reset(io.Discard)
				_, _ = w.Write(msg)
				_ = w.Flush()
			}
		})
		b.Run(size.name+"/deflate/stdlib", func(b *testing.B) {
			w, _ := stdflate.NewWriter(io.Discard, stdflate.BestSpeed)
			b.SetBytes(int64(len(msg)))
			b.ReportAllocs()
			for b.Loop() {
				w.Reset(io.Discard)
				_, _ = w.Write(msg)
				_ = w.Flush()
			}
		})
		b.Run(size.name+"/inflate/klauspost", func(b *testing.B) {
			var src bytes.Reader
			br := bufio.NewReader(&src)
			fr := flate.NewReader(br)
			b.SetBytes(int64(len(msg)))
			b.ReportAllocs()
			for b.Loop() {
				src.Reset(p)
				br.Reset(&src)
				_ = fr.(flate.Resetter).Reset(br, nil)
				_, _ = io.CopyN(io.Discard, fr, int64(len(msg)))
			}
		})
		b.Run(size.name+"/inflate/stdlib", func(b *testing.B) {
			var src bytes.Reader
			br := bufio.NewReader(&src)
			fr := stdflate.NewReader(br)
			b.SetBytes(int64(len(msg)))
			b.ReportAllocs()
			for b.Loop() {
				src.Reset(p)
				br.Reset(&src)
				_ = fr.(stdflate.Resetter).Reset(br, nil)
				_, _ = io.CopyN(io.Discard, fr, int64(len(msg)))
			}
		})
	}
}
