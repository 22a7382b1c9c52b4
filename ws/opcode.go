package ws

//go:generate go run golang.org/x/tools/cmd/stringer@v0.52.0 -type=OpCode,StatusCode,Side -linecomment -output=string.go

// OpCode is the 4-bit frame opcode of RFC 6455 §5.2.
type OpCode byte

// The opcodes RFC 6455 §11.8 registers. Every other value is reserved.
const (
	OpContinuation OpCode = 0x0 // continuation
	OpText         OpCode = 0x1 // text
	OpBinary       OpCode = 0x2 // binary
	OpClose        OpCode = 0x8 // close
	OpPing         OpCode = 0x9 // ping
	OpPong         OpCode = 0xa // pong
)

// IsControl reports whether c is a control opcode: its most significant bit
// is set (RFC 6455 §5.5). Reserved control opcodes 0xB–0xF count too.
func (c OpCode) IsControl() bool { return c&0x8 != 0 }

// IsData reports whether c is a data opcode: continuation, text or binary,
// or one of the reserved non-control opcodes 0x3–0x7 (RFC 6455 §5.6).
func (c OpCode) IsData() bool { return c&0x8 == 0 }

// IsReserved reports whether c is one of the opcodes RFC 6455 reserves for
// future use (0x3–0x7 and 0xB–0xF). A frame with a reserved opcode fails the
// connection unless an extension defines it (RFC 6455 §5.2).
func (c OpCode) IsReserved() bool {
	return (c > OpBinary && c < OpClose) || c > OpPong
}
