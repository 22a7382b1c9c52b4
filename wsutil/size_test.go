package wsutil

import (
	"testing"
	"unsafe"
)

// TestConnSizeClass keeps a Conn, with the 8-byte header the Go allocator
// puts before objects over 512 bytes that hold pointers, within the
// 768-byte size class on 64-bit platforms: every idle connection pays for
// each byte of it, and the next class up is 896 bytes. A field added to
// Conn belongs behind a pointer that idle connections leave nil, as the
// Reader is.
func TestConnSizeClass(t *testing.T) {
	if unsafe.Sizeof(uintptr(0)) != 8 {
		t.Skip("size classes differ on 32-bit platforms")
	}
	const header, class = 8, 768
	var c *Conn
	if size := unsafe.Sizeof(*c); size+header > class {
		t.Errorf("a Conn takes %d bytes, %d with its header: over the %d-byte size class", size, size+header, class)
	}
}
