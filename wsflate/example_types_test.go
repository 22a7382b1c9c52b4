package wsflate_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/gobwas/httphead"

	"github.com/sluice-ws/sluice/ws"
	"github.com/sluice-ws/sluice/wsflate"
)

// An Extension is one side's configuration. This server bounds what a
// connection costs it: no context takeover for its own messages, and a
// 1 KiB window for the client's.
func ExampleExtension() {
	server := &wsflate.Extension{ServerNoContextTakeover: true, ClientMaxWindowBits: 10}
	if err := server.Check(); err != nil {
		fmt.Println(err)
		return
	}
	for _, offer := range []string{
		"permessage-deflate; client_max_window_bits",
		"permessage-deflate", // the client cannot be bounded: it must drop its context instead
		"permessage-deflate; server_max_window_bits=16",
	} {
		opts, _ := httphead.ParseOptions([]byte(offer), nil)
		accept, ok := server.Negotiate(opts[0])
		if !ok {
			fmt.Println("declined")
			continue
		}
		p, _ := wsflate.ParseParams(accept)
		fmt.Println(p)
	}
	// Output:
	// permessage-deflate; server_no_context_takeover; client_max_window_bits=10
	// permessage-deflate; server_no_context_takeover; client_no_context_takeover
	// declined
}

// Check catches a configuration out of range before the server declines
// every offer because of it.
func ExampleExtension_Check() {
	for _, e := range []wsflate.Extension{{Level: wsflate.BestCompression}, {Level: 12}, {ServerMaxWindowBits: 7}} {
		err := e.Check()
		fmt.Println(err, errors.Is(err, wsflate.ErrLevel), errors.Is(err, wsflate.ErrWindowBits))
	}
	// Output:
	// <nil> false false
	// wsflate: invalid compression level true false
	// wsflate: window bits out of range false true
}

// A Sender compresses the messages of one connection; for a message too
// small to gain from it, it answers (nil, 0): send the message as it is.
func ExampleSender() {
	var e wsflate.Extension // DefaultThreshold: 128 bytes
	_, send, _ := e.Bind(ws.ServerSide, []httphead.Option{wsflate.Params{}.Option()})

	for _, msg := range []string{"ok", strings.Repeat("all work and no play ", 20)} {
		var payload bytes.Buffer
		enc, rsv := send.NextWriter(&payload, len(msg))
		if enc == nil {
			fmt.Printf("%d bytes: sent as they are\n", len(msg))
			continue
		}
		_, _ = io.WriteString(enc, msg)
		_ = enc.Finish()
		fmt.Printf("%d bytes: %d on the wire, RSV1 %v\n", len(msg), payload.Len(), rsv == ws.Rsv1)
	}
	// Output:
	// 2 bytes: sent as they are
	// 420 bytes: 28 on the wire, RSV1 true
}

// A MessageEncoder takes a message in as many writes as it comes in; Finish
// ends it.
func ExampleMessageEncoder() {
	var e wsflate.Extension
	_, send, _ := e.Bind(ws.ClientSide, []httphead.Option{wsflate.Params{}.Option()})
	var payload bytes.Buffer
	var enc wsflate.MessageEncoder
	enc, _ = send.NextWriter(&payload, -1) // size unknown: always compressed
	for _, part := range []string{`{"rows":[`, strings.Repeat(`{"id":1,"ok":true},`, 30), `{}]}`} {
		_, _ = io.WriteString(enc, part)
	}
	err := enc.Finish()
	msg, _ := wsflate.AppendDecompress(nil, payload.Bytes(), 0)
	fmt.Println(len(msg), "bytes in,", payload.Len(), "out,", err)
	// Output: 583 bytes in, 39 out, <nil>
}

// A Receiver inflates the messages of one connection, given the first
// frame's header and a reader of the payload of all its frames.
func ExampleReceiver() {
	var e wsflate.Extension
	recv, _, _ := e.Bind(ws.ClientSide, []httphead.Option{wsflate.Params{}.Option()})

	msg := []byte(strings.Repeat("tick ", 100))
	payload, _ := wsflate.AppendCompress(nil, msg, wsflate.DefaultLevel, 0)
	// The server sent it in two frames, RSV1 on the first only.
	first := ws.Header{Fin: false, Rsv: ws.Rsv1, OpCode: ws.OpText, Length: 4}
	r, err := recv.NextReader(first, io.MultiReader(bytes.NewReader(payload[:4]), bytes.NewReader(payload[4:])))
	if err != nil {
		fmt.Println(err)
		return
	}
	got, err := io.ReadAll(r)
	fmt.Println(recv.Rsv() == ws.Rsv1, bytes.Equal(got, msg), err)
	// Output: true true <nil>
}

// Params are the parameters of one permessage-deflate element, as a
// client offers them or a server answers.
func ExampleParams() {
	offer := wsflate.Params{ServerMaxWindowBits: 10, ClientMaxWindowBits: wsflate.WindowBitsNoValue}
	fmt.Println(offer)
	answer := wsflate.Params{ServerMaxWindowBits: 10, ClientMaxWindowBits: 12}
	fmt.Println(answer)
	// Output:
	// permessage-deflate; server_max_window_bits=10; client_max_window_bits
	// permessage-deflate; server_max_window_bits=10; client_max_window_bits=12
}

func ExampleParams_String() {
	fmt.Println(wsflate.Params{ServerNoContextTakeover: true}.String())
	// Output: permessage-deflate; server_no_context_takeover
}
