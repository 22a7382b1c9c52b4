package wsutil_test

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/sluice-ws/sluice/ws"
	"github.com/sluice-ws/sluice/wsutil"
)

// A Reader streams each message: NextMessage starts it, Read returns its
// data across its fragments and io.EOF at its end.
func ExampleReader() {
	var conn bytes.Buffer // what a client sent
	_ = wsutil.WriteMessage(&conn, ws.ClientSide, ws.OpText, []byte("hello"))
	_ = wsutil.WriteMessage(&conn, ws.ClientSide, ws.OpText, []byte("world"))

	r := wsutil.NewReader(&conn, ws.ServerSide)
	for {
		op, err := r.NextMessage()
		if err != nil {
			break // io.EOF: the stream ended between messages
		}
		p, err := io.ReadAll(r)
		fmt.Println(op, string(p), err)
	}
	// Output:
	// text hello <nil>
	// text world <nil>
}

// NewReader reads frames through a buffer; set its limits before the
// first read.
func ExampleNewReader() {
	var conn bytes.Buffer
	_ = wsutil.WriteMessage(&conn, ws.ClientSide, ws.OpBinary, make([]byte, 2000))

	r := wsutil.NewReader(&conn, ws.ServerSide)
	r.MaxMessageSize = 1024
	_, _, err := r.ReadMessage(nil)
	fmt.Println(wsutil.CloseCode(err) == ws.StatusMessageTooBig)
	// Output: true
}

// With size 0 a Reader reads exactly the bytes of each frame, so that
// other code can go on reading the source after it.
func ExampleNewReaderSize() {
	var conn bytes.Buffer
	_ = wsutil.WriteMessage(&conn, ws.ServerSide, ws.OpText, []byte("a frame"))
	conn.WriteString("and then raw bytes")

	r := wsutil.NewReaderSize(&conn, ws.ClientSide, 0)
	_, p, _ := r.ReadMessage(nil)
	rest, _ := io.ReadAll(&conn)
	fmt.Printf("%q %q\n", p, rest)
	// Output: "a frame" "and then raw bytes"
}

// Buffered tells how many bytes the Reader has read ahead: here all of
// the second message came in with the first.
func ExampleReader_Buffered() {
	var conn bytes.Buffer
	_ = wsutil.WriteMessage(&conn, ws.ServerSide, ws.OpText, []byte("one"))
	_ = wsutil.WriteMessage(&conn, ws.ServerSide, ws.OpText, []byte("two")) // 2 + 3 bytes

	r := wsutil.NewReader(&conn, ws.ClientSide)
	_, p, _ := r.ReadMessage(nil)
	fmt.Println(string(p), r.Buffered(), conn.Len())
	// Output: one 5 0
}

// NextMessage skips what is left of the current message: here the rest
// of a message the application stopped reading.
func ExampleReader_NextMessage() {
	var conn bytes.Buffer
	_ = wsutil.WriteMessage(&conn, ws.ServerSide, ws.OpText, []byte("header: a long body"))
	_ = wsutil.WriteMessage(&conn, ws.ServerSide, ws.OpBinary, []byte{0xff})

	r := wsutil.NewReader(&conn, ws.ClientSide)
	op, _ := r.NextMessage()
	head := make([]byte, 6)
	_, _ = io.ReadFull(r, head)
	fmt.Println(op, string(head))
	op, _ = r.NextMessage() // skips " a long body"
	p, _ := io.ReadAll(r)
	fmt.Println(op, p)
	// Output:
	// text header
	// binary [255]
}

// Read returns the data of the current message in pieces of the caller's
// size, checking text for UTF-8 as it goes.
func ExampleReader_Read() {
	var conn bytes.Buffer
	_ = wsutil.WriteMessage(&conn, ws.ServerSide, ws.OpText, []byte("hello world"))

	r := wsutil.NewReader(&conn, ws.ClientSide)
	if _, err := r.NextMessage(); err != nil {
		panic(err)
	}
	buf := make([]byte, 4)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			fmt.Printf("%q\n", buf[:n])
		}
		if err == io.EOF {
			break // the end of this message
		}
	}
	// Output:
	// "hell"
	// "o wo"
	// "rld"
}

// Reset reuses a Reader, its buffer and its settings, for another stream.
func ExampleReader_Reset() {
	var first, second bytes.Buffer
	_ = wsutil.WriteMessage(&first, ws.ClientSide, ws.OpText, []byte("from the first"))
	_ = wsutil.WriteMessage(&second, ws.ClientSide, ws.OpText, []byte("from the second"))

	r := wsutil.NewReader(&first, ws.ServerSide)
	r.MaxMessageSize = 1 << 10
	_, p, _ := r.ReadMessage(nil)
	fmt.Println(string(p))
	r.Reset(&second, ws.ServerSide)
	_, p, _ = r.ReadMessage(nil)
	fmt.Println(string(p), r.MaxMessageSize)
	// Output:
	// from the first
	// from the second 1024
}

// NewWriter writes messages of one opcode; Write adds to the current
// message and Flush ends it.
func ExampleNewWriter() {
	var conn bytes.Buffer
	w := wsutil.NewWriter(&conn, ws.ServerSide, ws.OpText)
	fmt.Fprintf(w, "%d items, ", 3)
	fmt.Fprintf(w, "total %.2f", 9.5)
	_ = w.Flush()

	_, p, _ := wsutil.NewReader(&conn, ws.ClientSide).ReadMessage(nil)
	fmt.Println(string(p))
	// Output: 3 items, total 9.50
}

// NewWriterSize sets the payload of a full frame: a message larger than
// the buffer goes out in several frames.
func ExampleNewWriterSize() {
	var conn bytes.Buffer
	w := wsutil.NewWriterSize(&conn, ws.ServerSide, ws.OpText, 64)
	for range 15 {
		_, _ = io.WriteString(w, "0123456789")
	}
	_ = w.Flush()

	r := wsutil.NewReader(&conn, ws.ClientSide)
	for {
		h, err := r.NextFrame()
		if err != nil {
			break
		}
		fmt.Println(h.OpCode, h.Fin, h.Length)
	}
	// Output:
	// text false 64
	// continuation false 64
	// continuation true 22
}

// Available and Buffered tell how a Writer's buffer fills before a frame
// goes out.
func ExampleWriter_Available() {
	var conn bytes.Buffer
	w := wsutil.NewWriterSize(&conn, ws.ServerSide, ws.OpText, 64)
	_, _ = w.Write([]byte("hello"))
	fmt.Println(w.Buffered(), w.Available(), conn.Len())
	_ = w.Flush()
	fmt.Println(w.Buffered(), w.Available(), conn.Len())
	// Output:
	// 5 59 0
	// 0 64 7
}

// Buffered counts the payload bytes not sent yet: nothing reaches the
// destination before a frame is full or Flush.
func ExampleWriter_Buffered() {
	var conn bytes.Buffer
	w := wsutil.NewWriter(&conn, ws.ServerSide, ws.OpBinary)
	_, _ = w.Write([]byte{1, 2, 3})
	fmt.Println(w.Buffered(), conn.Len())
	// Output: 3 0
}

// Flush ends the message: the buffered data goes out as the final frame.
func ExampleWriter_Flush() {
	var conn bytes.Buffer
	w := wsutil.NewWriter(&conn, ws.ServerSide, ws.OpText)
	_, _ = w.Write([]byte("hi"))
	_ = w.Flush()
	fmt.Printf("% x\n", conn.Bytes())
	// Output: 81 02 68 69
}

// FlushFragment sends what is buffered as a non-final frame, so that the
// peer gets the start of a message while the rest is being produced.
func ExampleWriter_FlushFragment() {
	var conn bytes.Buffer
	w := wsutil.NewWriter(&conn, ws.ServerSide, ws.OpText)
	_, _ = w.Write([]byte("hel"))
	_ = w.FlushFragment()
	_, _ = w.Write([]byte("lo"))
	_ = w.Flush()
	fmt.Printf("% x\n", conn.Bytes())
	// Output: 01 03 68 65 6c 80 02 6c 6f
}

// Reset reuses a Writer, with its buffer and settings, for another
// destination or opcode.
func ExampleWriter_Reset() {
	var text, binary bytes.Buffer
	w := wsutil.NewWriter(&text, ws.ServerSide, ws.OpText)
	_, _ = w.Write([]byte("a"))
	_ = w.Flush()
	w.Reset(&binary, ws.ServerSide, ws.OpBinary)
	_, _ = w.Write([]byte{1})
	_ = w.Flush()
	fmt.Printf("% x | % x\n", text.Bytes(), binary.Bytes())
	// Output: 81 01 61 | 82 01 01
}

// Write adds to the current message; a Writer is an io.Writer, so
// io.Copy and fmt.Fprint work with it.
func ExampleWriter_Write() {
	var conn bytes.Buffer
	w := wsutil.NewWriter(&conn, ws.ClientSide, ws.OpText) // masked frames
	_, _ = io.Copy(w, strings.NewReader("copied "))
	_, _ = w.Write([]byte("and written"))
	_ = w.Flush()

	_, p, _ := wsutil.NewReader(&conn, ws.ServerSide).ReadMessage(nil)
	fmt.Println(string(p))
	// Output: copied and written
}

// Write returns false as soon as no continuation could make the text
// valid, and keeps returning false until Reset.
func ExampleUTF8Validator_Write() {
	var v wsutil.UTF8Validator
	fmt.Println(v.Write([]byte("\xf0\x9f"))) // the start of an emoji: may go on
	fmt.Println(v.Write([]byte("\x98\x80"))) // 😀
	fmt.Println(v.Write([]byte("\xed\xa0"))) // a surrogate: never valid
	fmt.Println(v.Write([]byte("ok")))
	// Output:
	// true
	// true
	// false
	// false
}

// Valid belongs at the end of a message: a sequence still open there is
// an error.
func ExampleUTF8Validator_Valid() {
	var v wsutil.UTF8Validator
	v.Write([]byte("end: \xe2\x82")) // € without its last byte
	fmt.Println(v.Valid())
	// Output: false
}

// Reset starts a new message, forgetting an earlier failure.
func ExampleUTF8Validator_Reset() {
	var v wsutil.UTF8Validator
	v.Write([]byte("\xff"))
	fmt.Println(v.Valid())
	v.Reset()
	v.Write([]byte("next message"))
	fmt.Println(v.Valid())
	// Output:
	// false
	// true
}

// Handle answers a ping with a pong carrying the same payload; it is
// meant for Reader.OnControl.
func ExampleControlHandler_Handle() {
	var replies bytes.Buffer
	h := &wsutil.ControlHandler{Dst: &replies, Side: ws.ServerSide}
	_ = h.Handle(ws.Header{OpCode: ws.OpPing, Fin: true, Length: 4}, []byte("beat"))
	f, _ := ws.ReadFrame(&replies, 0)
	fmt.Println(f.Header.OpCode, string(f.Payload))
	// Output: pong beat
}
