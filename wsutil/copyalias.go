package wsutil

import "unsafe"

// The kernel copies what a connection writes from the process's memory
// into the socket's pages. On x86-64 it copies with REP MOVSB, and at
// least on AMD Zen (measured on an EPYC) that copy runs three to five
// times slower when its destination lies 1 to 31 bytes past its source
// modulo the 4 KiB page. A WebSocket frame meets exactly that case: a
// payload at the start of a page (every large buffer from Go's heap or
// from bufpool) written just after its 2- to 14-byte header, at the start
// of a socket page. Writing a 64 KiB payload that way cost 33µs of kernel
// time against 11µs for the same payload one cache line further along.
//
// A writer cannot move the socket's pages, so when a payload would land
// in that window it writes a copy of it placed outside the window
// instead: a memmove of the payload costs a fraction of what the slow
// kernel copy adds.

const (
	// aliasPage is the period of the comparison: a page.
	aliasPage = 4 << 10
	// aliasWindow bounds the distances that take the slow path.
	aliasWindow = 32
)

// aliasedCopy reports whether p, written pos bytes into a write that
// starts at the beginning of a socket page, would take the kernel's slow
// copy: whether its destination would lie 1 to aliasWindow-1 bytes past
// it modulo aliasPage. It returns the distance, or 0 when the copy is
// fast.
func aliasedCopy(pos int, p []byte) int {
	if len(p) == 0 {
		return 0
	}
	src := int(uintptr(unsafe.Pointer(unsafe.SliceData(p))) % aliasPage)
	d := (pos - src) & (aliasPage - 1)
	if d >= aliasWindow {
		return 0
	}
	return d
}
