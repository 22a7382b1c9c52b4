package wsutil

import (
	"encoding/binary"
	"math/bits"
)

// RFC 6455 §8.1: the payload of a text message is UTF-8, and an endpoint
// that receives invalid UTF-8 MUST fail the connection (close code 1007,
// §7.4.1). The check spans frames: a multi-byte sequence may be split across
// frames, or across the chunks a reader hands back, and the Autobahn
// testsuite (section 6) expects the failure on the first byte that rules the
// message out, not at the end of the message.
//
// The definition of "valid" is the table of well-formed byte sequences in
// Unicode 15, Table 3-7 (the same as RFC 3629 §4):
//
//	U+0000..U+007F     00..7F
//	U+0080..U+07FF     C2..DF  80..BF
//	U+0800..U+0FFF     E0      A0..BF  80..BF
//	U+1000..U+CFFF     E1..EC  80..BF  80..BF
//	U+D000..U+D7FF     ED      80..9F  80..BF
//	U+E000..U+FFFF     EE..EF  80..BF  80..BF
//	U+10000..U+3FFFF   F0      90..BF  80..BF  80..BF
//	U+40000..U+FFFFF   F1..F3  80..BF  80..BF  80..BF
//	U+100000..U+10FFFF F4      80..8F  80..BF  80..BF
//
// Noncharacters such as U+FFFE are well formed and pass; surrogates
// (ED A0..BF), overlong forms (C0, C1, E0 80..9F, F0 80..8F) and code points
// above U+10FFFF (F4 90..BF, F5..FF) do not.

// UTF8Validator checks a stream of bytes, written in pieces of any size, for
// UTF-8 validity. It is allocation-free. The zero value is ready to use and
// expects the start of a message. A UTF8Validator is not safe for concurrent
// use.
type UTF8Validator struct {
	// state is the automaton state after the bytes written so far (one of
	// the s* constants below); 0 means "between sequences".
	state uint8
}

// Write validates p as the continuation of everything written since the last
// Reset. It returns false as soon as the stream can no longer be valid UTF-8,
// that is, exactly when no continuation would make it valid: a sequence that
// is wrong from its first bytes ("\xF4\x90", "\xED\xA0", "\xE0\x80", "\xC0",
// "\xF5") fails at once, while an open but still possible one ("\xF0\x9F")
// is kept for the next call. Once Write has returned false it keeps
// returning false until Reset.
//
// Write does not retain p. It is not an io.Writer: a validator runs on every
// text frame, so it reports with a bool and leaves the choice of error (a
// 1007 close, RFC 6455 §8.1) to the caller.
func (v *UTF8Validator) Write(p []byte) bool {
	st := uint64(v.state)
	if len(p) < shortInput {
		st = runDFA(st, p)
	} else {
		// Finish an open sequence first: at most three bytes.
		for len(p) > 0 && st != sAcc && st != sErr {
			st = utf8DFA[p[0]] >> (st & 63) & 63
			p = p[1:]
		}
		// p now starts at a sequence boundary. Check everything up to the
		// start of a sequence that p leaves open with the whole-buffer fast
		// path, and step through the open rest (at most three bytes) with
		// the automaton, which keeps the state for the next call.
		if st == sAcc {
			if i := goASCII(p); i < len(p) {
				p = p[i:]
				cut := openTail(p)
				if !validFrom(p[:cut]) {
					st = sErr
				} else if cut < len(p) {
					st = runDFA(sAcc, p[cut:])
				}
			}
		}
	}
	v.state = uint8(st)
	return st != sErr
}

// shortInput is the length below which Write and ValidUTF8 run the automaton
// over all of p: the fast path's set-up would cost more than it saves.
const shortInput = 16

// Valid reports whether the bytes written since the last Reset form complete,
// valid UTF-8: no Write has failed and no sequence is left open. Call it at
// the end of a message; in the middle of one, an open sequence is not an
// error yet, which is what Write reports.
func (v *UTF8Validator) Valid() bool { return v.state == sAcc }

// Reset forgets everything written so far, ready for a new message.
func (v *UTF8Validator) Reset() { v.state = sAcc }

// ValidUTF8 reports whether p is entirely valid UTF-8 (Unicode 15 Table 3-7,
// RFC 3629). It gives the same answers as utf8.Valid, faster: ASCII is
// skipped a block at a time, and other text goes through vector code where
// the CPU has it (AVX2 on amd64) or through a table-driven automaton.
func ValidUTF8(p []byte) bool {
	if len(p) < shortInput {
		return runDFA(sAcc, p) == sAcc
	}
	i := goASCII(p)
	return i == len(p) || validFrom(p[i:])
}

// The automaton states. Each is the bit offset of its 6-bit field in a row of
// utf8DFA, so that one shift performs a transition (a "shift-based DFA"):
//
//	next = utf8DFA[b] >> (state & 63) & 63
//
// Every state except sErr has a completion, so reaching sErr on some byte
// means no continuation can make the stream valid: that gives Write its
// fail-fast answer.
const (
	sAcc = 0 * 6 // between sequences; the zero value
	sErr = 1 * 6 // invalid, whatever follows (absorbing)
	sC1  = 2 * 6 // one continuation byte (80..BF) left
	sC2  = 3 * 6 // two continuation bytes left
	sC3  = 4 * 6 // three continuation bytes left
	sE0  = 5 * 6 // after E0: A0..BF, then one more (no overlong forms)
	sED  = 6 * 6 // after ED: 80..9F, then one more (no surrogates)
	sF0  = 7 * 6 // after F0: 90..BF, then two more (no overlong forms)
	sF4  = 8 * 6 // after F4: 80..8F, then two more (nothing above U+10FFFF)
)

// utf8DFA is the transition table: row b holds, at bit offset s, the state
// that byte b leads to from state s.
var utf8DFA = buildUTF8DFA()

// buildUTF8DFA transcribes Unicode 15 Table 3-7 into the automaton.
func buildUTF8DFA() [256]uint64 {
	var t [256]uint64
	states := []uint64{sAcc, sErr, sC1, sC2, sC3, sE0, sED, sF0, sF4}
	for b := range t {
		for _, s := range states {
			t[b] |= sErr << s
		}
	}
	on := func(from uint64, lo, hi int, to uint64) {
		for b := lo; b <= hi; b++ {
			t[b] = t[b]&^(63<<from) | to<<from
		}
	}
	on(sAcc, 0x00, 0x7F, sAcc)
	on(sAcc, 0xC2, 0xDF, sC1)
	on(sAcc, 0xE0, 0xE0, sE0)
	on(sAcc, 0xE1, 0xEC, sC2)
	on(sAcc, 0xED, 0xED, sED)
	on(sAcc, 0xEE, 0xEF, sC2)
	on(sAcc, 0xF0, 0xF0, sF0)
	on(sAcc, 0xF1, 0xF3, sC3)
	on(sAcc, 0xF4, 0xF4, sF4)
	on(sC1, 0x80, 0xBF, sAcc)
	on(sC2, 0x80, 0xBF, sC1)
	on(sC3, 0x80, 0xBF, sC2)
	on(sE0, 0xA0, 0xBF, sC1)
	on(sED, 0x80, 0x9F, sC1)
	on(sF0, 0x90, 0xBF, sC2)
	on(sF4, 0x80, 0x8F, sC2)
	return t
}

const hiBits = 0x8080808080808080

// asciiPrefix returns the length of the longest all-ASCII prefix of p, a
// block of eight words at a time: that runs at the load ports' pace, as
// fast as portable code can read.
func asciiPrefix(p []byte) int {
	n := len(p)
	if n < 8 {
		for i, b := range p {
			if b >= 0x80 {
				return i
			}
		}
		return n
	}
	// The loop runs while more than a block is left ("> 64", not ">= 64"),
	// so that q[64:] never points past p and the compiler need not mask
	// the pointer.
	q := p
	for len(q) > 64 {
		w := binary.LittleEndian.Uint64(q[0:8]) | binary.LittleEndian.Uint64(q[8:16]) |
			binary.LittleEndian.Uint64(q[16:24]) | binary.LittleEndian.Uint64(q[24:32]) |
			binary.LittleEndian.Uint64(q[32:40]) | binary.LittleEndian.Uint64(q[40:48]) |
			binary.LittleEndian.Uint64(q[48:56]) | binary.LittleEndian.Uint64(q[56:64])
		if w&hiBits != 0 {
			break
		}
		q = q[64:]
	}
	if k := len(q); k <= 64 {
		// Check the last k bytes with one test, as the words that start
		// and end them: they may overlap each other and the bytes before,
		// so that short inputs take no loop.
		var w uint64
		switch {
		case k <= 8:
			w = binary.LittleEndian.Uint64(p[n-8:])
		case k <= 16:
			w = binary.LittleEndian.Uint64(q) | binary.LittleEndian.Uint64(q[k-8:])
		case k <= 32:
			w = binary.LittleEndian.Uint64(q) | binary.LittleEndian.Uint64(q[8:]) |
				binary.LittleEndian.Uint64(q[k-16:]) | binary.LittleEndian.Uint64(q[k-8:])
		default:
			w = binary.LittleEndian.Uint64(q) | binary.LittleEndian.Uint64(q[8:]) |
				binary.LittleEndian.Uint64(q[16:]) | binary.LittleEndian.Uint64(q[24:]) |
				binary.LittleEndian.Uint64(q[k-32:]) | binary.LittleEndian.Uint64(q[k-24:]) |
				binary.LittleEndian.Uint64(q[k-16:]) | binary.LittleEndian.Uint64(q[k-8:])
		}
		if w&hiBits == 0 {
			return n
		}
	}
	// Some word holds a non-ASCII byte: find it.
	for len(q) > 8 {
		if w := binary.LittleEndian.Uint64(q) & hiBits; w != 0 {
			return n - len(q) + bits.TrailingZeros64(w)>>3
		}
		q = q[8:]
	}
	// The bytes of this word before q were checked already.
	w := binary.LittleEndian.Uint64(p[n-8:]) & hiBits
	return n - 8 + bits.TrailingZeros64(w)>>3
}

// openTail returns the index at which the sequence that p leaves open starts,
// or len(p) when p ends between sequences (or cannot be valid anyway: the
// caller's checks then fail wherever it cuts).
func openTail(p []byte) int {
	n := len(p)
	for k := 1; k <= 3 && k <= n; k++ {
		b := p[n-k]
		if b < 0x80 {
			return n
		}
		if b >= 0xC0 {
			need := 2
			if b >= 0xF0 {
				need = 4
			} else if b >= 0xE0 {
				need = 3
			}
			if k < need {
				return n - k
			}
			return n
		}
	}
	return n
}

// runDFA runs the automaton from state st over p and returns the final state
// (masked). Blocks of ASCII between sequences are skipped whole.
func runDFA(st uint64, p []byte) uint64 {
	for len(p) >= 16 {
		q := p[:16]
		if st == sAcc && (binary.LittleEndian.Uint64(q)|binary.LittleEndian.Uint64(q[8:]))&hiBits == 0 {
			p = p[16:]
			continue
		}
		st = utf8DFA[q[0]] >> (st & 63)
		st = utf8DFA[q[1]] >> (st & 63)
		st = utf8DFA[q[2]] >> (st & 63)
		st = utf8DFA[q[3]] >> (st & 63)
		st = utf8DFA[q[4]] >> (st & 63)
		st = utf8DFA[q[5]] >> (st & 63)
		st = utf8DFA[q[6]] >> (st & 63)
		st = utf8DFA[q[7]] >> (st & 63)
		st = utf8DFA[q[8]] >> (st & 63)
		st = utf8DFA[q[9]] >> (st & 63)
		st = utf8DFA[q[10]] >> (st & 63)
		st = utf8DFA[q[11]] >> (st & 63)
		st = utf8DFA[q[12]] >> (st & 63)
		st = utf8DFA[q[13]] >> (st & 63)
		st = utf8DFA[q[14]] >> (st & 63)
		st = utf8DFA[q[15]] >> (st & 63)
		st &= 63
		if st == sErr {
			return sErr
		}
		p = p[16:]
	}
	if len(p) >= 8 {
		if q := p[:8]; st != sAcc || binary.LittleEndian.Uint64(q)&hiBits != 0 {
			st = utf8DFA[q[0]] >> (st & 63)
			st = utf8DFA[q[1]] >> (st & 63)
			st = utf8DFA[q[2]] >> (st & 63)
			st = utf8DFA[q[3]] >> (st & 63)
			st = utf8DFA[q[4]] >> (st & 63)
			st = utf8DFA[q[5]] >> (st & 63)
			st = utf8DFA[q[6]] >> (st & 63)
			st = utf8DFA[q[7]] >> (st & 63)
		}
		p = p[8:]
	}
	for _, b := range p {
		st = utf8DFA[b] >> (st & 63)
	}
	return st & 63
}

// pairMin is the length of non-ASCII text from which validRest splits it in
// two so that two automaton chains run side by side: a transition is a shift
// that waits for the previous one, and two independent chains keep the CPU
// busy.
const pairMin = 64

// goASCII returns the length of the ASCII prefix of p that ValidUTF8 and
// Write skip in Go: all of it, unless the vector code takes p whole. That
// code skips ASCII faster, but entering it costs more than a short run.
func goASCII(p []byte) int {
	if useSIMD && len(p) >= simdASCII {
		return 0
	}
	return asciiPrefix(p)
}

// validFrom reports whether p, which starts at a sequence boundary, is
// complete valid UTF-8: with the vector code when the build and the CPU have
// it and p is long enough for it, else with the automaton.
func validFrom(p []byte) bool {
	if useSIMD && len(p) >= simdMin {
		return validSIMD(p)
	}
	return validRest(p)
}

// validGo reports whether p, which starts at a sequence boundary, is complete
// valid UTF-8, in portable Go. It is the reference the vector code is tested
// against and the fast path where there is none: it skips leading ASCII a
// block at a time and runs the automaton over the rest.
func validGo(p []byte) bool {
	if len(p) < shortInput {
		return runDFA(sAcc, p) == sAcc
	}
	i := asciiPrefix(p)
	return i == len(p) || validRest(p[i:])
}

// validRest is validGo without the block skip of leading ASCII, for a p that
// starts with a non-ASCII byte (or with little ASCII).
func validRest(p []byte) bool {
	if len(p) < pairMin {
		return runDFA(sAcc, p) == sAcc
	}
	// Cut at a sequence start near the middle. Valid UTF-8 never has more
	// than three continuation bytes in a row.
	m := len(p) / 2
	for k := 0; p[m]&0xC0 == 0x80; k++ {
		if k == 3 {
			return false
		}
		m++
	}
	return validPair(p[:m], p[m:])
}

// validPair reports whether a and b, each starting at a sequence boundary, are
// both complete valid UTF-8, stepping through them together.
func validPair(a, b []byte) bool {
	var sa, sb uint64 = sAcc, sAcc
	for len(a) >= 8 && len(b) >= 8 {
		x, y := a[:8], b[:8]
		// A side between sequences skips a word of ASCII alone: the text
		// of one side need not look like the other's.
		if sa == sAcc && binary.LittleEndian.Uint64(x)&hiBits == 0 {
			a = a[8:]
			continue
		}
		if sb == sAcc && binary.LittleEndian.Uint64(y)&hiBits == 0 {
			b = b[8:]
			continue
		}
		sa = utf8DFA[x[0]] >> (sa & 63)
		sb = utf8DFA[y[0]] >> (sb & 63)
		sa = utf8DFA[x[1]] >> (sa & 63)
		sb = utf8DFA[y[1]] >> (sb & 63)
		sa = utf8DFA[x[2]] >> (sa & 63)
		sb = utf8DFA[y[2]] >> (sb & 63)
		sa = utf8DFA[x[3]] >> (sa & 63)
		sb = utf8DFA[y[3]] >> (sb & 63)
		sa = utf8DFA[x[4]] >> (sa & 63)
		sb = utf8DFA[y[4]] >> (sb & 63)
		sa = utf8DFA[x[5]] >> (sa & 63)
		sb = utf8DFA[y[5]] >> (sb & 63)
		sa = utf8DFA[x[6]] >> (sa & 63)
		sb = utf8DFA[y[6]] >> (sb & 63)
		sa = utf8DFA[x[7]] >> (sa & 63)
		sb = utf8DFA[y[7]] >> (sb & 63)
		sa &= 63
		sb &= 63
		if sa == sErr || sb == sErr {
			return false
		}
		a, b = a[8:], b[8:]
	}
	return runDFA(sa, a) == sAcc && runDFA(sb, b) == sAcc
}
