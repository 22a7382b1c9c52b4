package wsflate_test

import (
	"errors"
)

// refInflate is a plain RFC 1951 decoder, written for the tests from the
// RFC and independent of the inflaters under test, that enforces a window:
// every back-reference must reach at most window bytes back, into the
// message or into hist, the history before it. It decodes payload followed
// by the flush marker of RFC 7692 §7.2.2 up to the end of the last block,
// and reports the longest distance it met.
func refInflate(hist, payload []byte, window int) (out []byte, maxDist int, err error) {
	in := append(append([]byte(nil), payload...), 0x00, 0x00, 0xff, 0xff)
	d := &refDecoder{in: in, out: append([]byte(nil), hist...)}
	start := len(hist)
	defer func() {
		if r := recover(); r != nil {
			err = errRefShort
		}
	}()
	for {
		final := d.bits(1) == 1
		switch d.bits(2) {
		case 0:
			d.bitBuf, d.bitCount = 0, 0 // skip to the byte boundary
			if d.pos+4 > len(d.in) {
				return nil, 0, errRefShort
			}
			n := int(d.in[d.pos]) | int(d.in[d.pos+1])<<8
			if nn := int(d.in[d.pos+2]) | int(d.in[d.pos+3])<<8; n != ^nn&0xffff {
				return nil, 0, errRefCorrupt
			}
			d.pos += 4
			if d.pos+n > len(d.in) {
				return nil, 0, errRefShort
			}
			d.out = append(d.out, d.in[d.pos:d.pos+n]...)
			d.pos += n
		case 1:
			if err := d.codes(&refFixedLit, &refFixedDist, window); err != nil {
				return nil, 0, err
			}
		case 2:
			var lit, dist refHuffman
			if err := d.dynamic(&lit, &dist); err != nil {
				return nil, 0, err
			}
			if err := d.codes(&lit, &dist, window); err != nil {
				return nil, 0, err
			}
		default:
			return nil, 0, errRefCorrupt
		}
		if final || (d.pos >= len(d.in) && d.bitCount == 0) {
			return d.out[start:], d.maxDist, nil
		}
	}
}

var (
	errRefShort   = errors.New("ref: input ends in a block")
	errRefCorrupt = errors.New("ref: corrupt input")
	errRefWindow  = errors.New("ref: distance beyond the window")
)

type refDecoder struct {
	in       []byte
	pos      int    // next byte of in
	bitBuf   uint32 // bits not used yet, LSB first
	bitCount int
	out      []byte
	maxDist  int
}

// bits reads n bits, LSB first; it panics past the end of the input,
// which refInflate turns into errRefShort.
func (d *refDecoder) bits(n int) int {
	for d.bitCount < n {
		d.bitBuf |= uint32(d.in[d.pos]) << d.bitCount
		d.pos++
		d.bitCount += 8
	}
	v := int(d.bitBuf & (1<<n - 1))
	d.bitBuf >>= n
	d.bitCount -= n
	return v
}

// refHuffman is a canonical Huffman code as in zlib's puff.c: the number
// of codes of each length and the symbols in code order.
type refHuffman struct {
	count  [16]int
	symbol []int
}

func (h *refHuffman) build(lengths []int) {
	*h = refHuffman{symbol: make([]int, 0, len(lengths))}
	for _, l := range lengths {
		h.count[l]++
	}
	h.count[0] = 0
	for l := 1; l < 16; l++ {
		for s, sl := range lengths {
			if sl == l {
				h.symbol = append(h.symbol, s)
			}
		}
	}
}

func (d *refDecoder) decode(h *refHuffman) (int, error) {
	code, first, index := 0, 0, 0
	for l := 1; l < 16; l++ {
		code |= d.bits(1)
		count := h.count[l]
		if code-count < first {
			return h.symbol[index+code-first], nil
		}
		index += count
		first = (first + count) << 1
		code <<= 1
	}
	return 0, errRefCorrupt
}

var (
	refLenBase  = [29]int{3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258}
	refLenExtra = [29]int{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0}
	refDistBase = [30]int{1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769,
		1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577}
	refDistExtra = [30]int{0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13}

	refFixedLit, refFixedDist = func() (lit, dist refHuffman) {
		l := make([]int, 288)
		for i := range l {
			switch {
			case i < 144:
				l[i] = 8
			case i < 256:
				l[i] = 9
			case i < 280:
				l[i] = 7
			default:
				l[i] = 8
			}
		}
		lit.build(l)
		dl := make([]int, 30)
		for i := range dl {
			dl[i] = 5
		}
		dist.build(dl)
		return lit, dist
	}()
)

// codes decodes the symbols of one compressed block.
func (d *refDecoder) codes(lit, dist *refHuffman, window int) error {
	for {
		sym, err := d.decode(lit)
		if err != nil {
			return err
		}
		switch {
		case sym < 256:
			d.out = append(d.out, byte(sym))
			continue
		case sym == 256:
			return nil
		case sym > 285:
			return errRefCorrupt
		}
		sym -= 257
		n := refLenBase[sym] + d.bits(refLenExtra[sym])
		ds, err := d.decode(dist)
		if err != nil || ds >= 30 {
			return errRefCorrupt
		}
		back := refDistBase[ds] + d.bits(refDistExtra[ds])
		if back > window {
			return errRefWindow
		}
		if back > len(d.out) {
			return errRefCorrupt
		}
		d.maxDist = max(d.maxDist, back)
		for range n {
			d.out = append(d.out, d.out[len(d.out)-back])
		}
	}
}

// dynamic reads the code lengths of a dynamic block (RFC 1951 §3.2.7).
func (d *refDecoder) dynamic(lit, dist *refHuffman) error {
	nlen := d.bits(5) + 257
	ndist := d.bits(5) + 1
	ncode := d.bits(4) + 4
	if nlen > 286 || ndist > 30 {
		return errRefCorrupt
	}
	order := [19]int{16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15}
	cl := make([]int, 19)
	for i := range ncode {
		cl[order[i]] = d.bits(3)
	}
	var lencode refHuffman
	lencode.build(cl)
	lengths := make([]int, 0, nlen+ndist)
	for len(lengths) < nlen+ndist {
		sym, err := d.decode(&lencode)
		if err != nil {
			return err
		}
		switch {
		case sym < 16:
			lengths = append(lengths, sym)
			continue
		case sym == 16:
			if len(lengths) == 0 {
				return errRefCorrupt
			}
			prev := lengths[len(lengths)-1]
			for range 3 + d.bits(2) {
				lengths = append(lengths, prev)
			}
		case sym == 17:
			for range 3 + d.bits(3) {
				lengths = append(lengths, 0)
			}
		default:
			for range 11 + d.bits(7) {
				lengths = append(lengths, 0)
			}
		}
	}
	if len(lengths) > nlen+ndist {
		return errRefCorrupt
	}
	lit.build(lengths[:nlen])
	dist.build(lengths[nlen:])
	return nil
}
