package wsutil_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"

	"github.com/sluice-ws/sluice/ws"
	"github.com/sluice-ws/sluice/wsutil"
)

// A message larger than the whole Budget could never fit: it fails its
// connection with 1009, whatever the policy.
func ExampleBudget() {
	budget := wsutil.NewBudget(4<<10, wsutil.BudgetWait) // shared by every Conn of a server
	a, b := net.Pipe()
	s, err := wsutil.NewConn(a, ws.ServerSide, ws.Handshake{}, wsutil.Config{Budget: budget})
	if err != nil {
		panic(err)
	}
	c, err := wsutil.NewConn(b, ws.ClientSide, ws.Handshake{}, wsutil.Config{})
	if err != nil {
		panic(err)
	}
	_ = c.Send(context.Background(), wsutil.Message{OpCode: ws.OpBinary, Payload: make([]byte, 64<<10)})
	<-c.Done()
	code := ws.CloseStatus(c.Err())
	fmt.Println(int(code), code)
	<-s.Done()
	fmt.Println(budget.Used())
	// Output:
	// 1009 message too big
	// 0
}

// Limit is the size the Budget was made with.
func ExampleBudget_Limit() {
	budget := wsutil.NewBudget(256<<20, wsutil.BudgetWait)
	fmt.Println(budget.Limit()>>20, "MiB")
	// Output: 256 MiB
}

// Used counts what the Conns sharing the Budget hold: here a message
// queued for a peer that reads nothing, until the connection ends.
func ExampleBudget_Used() {
	budget := wsutil.NewBudget(1<<20, wsutil.BudgetWait)
	a, b := net.Pipe() // nobody reads b
	s, err := wsutil.NewConn(a, ws.ServerSide, ws.Handshake{}, wsutil.Config{Budget: budget})
	if err != nil {
		panic(err)
	}
	_ = s.Send(context.Background(), wsutil.Message{OpCode: ws.OpBinary, Payload: make([]byte, 1000)})
	fmt.Println(budget.Used() >= 1000)
	_ = s.Terminate()
	b.Close()
	fmt.Println(budget.Used())
	// Output:
	// true
	// 0
}

// BudgetRefuse fails a connection at once (1013, try again later) when the
// shared Budget cannot cover a message it reads; BudgetWait would stop
// reading until other connections give bytes back.
func ExampleBudgetPolicy() {
	budget := wsutil.NewBudget(256<<10, wsutil.BudgetRefuse)

	// A connection to a peer that reads nothing holds 200 KiB of the Budget.
	slowEnd, peer := net.Pipe()
	slow, err := wsutil.NewConn(slowEnd, ws.ServerSide, ws.Handshake{}, wsutil.Config{Budget: budget})
	if err != nil {
		panic(err)
	}
	_ = slow.Send(context.Background(), wsutil.Message{OpCode: ws.OpBinary, Payload: make([]byte, 200<<10)})

	// Another connection sharing the Budget receives 100 KiB: refused.
	a, b := net.Pipe()
	s, err := wsutil.NewConn(a, ws.ServerSide, ws.Handshake{}, wsutil.Config{Budget: budget})
	if err != nil {
		panic(err)
	}
	c, err := wsutil.NewConn(b, ws.ClientSide, ws.Handshake{}, wsutil.Config{})
	if err != nil {
		panic(err)
	}
	_ = c.Send(context.Background(), wsutil.Message{OpCode: ws.OpBinary, Payload: make([]byte, 100<<10)})
	<-c.Done()
	code := ws.CloseStatus(c.Err())
	fmt.Println(int(code), code)
	<-s.Done()
	fmt.Println(errors.Is(s.Err(), wsutil.ErrBudgetExhausted))
	_ = slow.Terminate()
	peer.Close()
	// Output:
	// 1013 try again later
	// true
}

func ExampleBudgetPolicy_String() {
	fmt.Println(wsutil.BudgetWait, wsutil.BudgetRefuse)
	// Output: wait refuse
}

// OverflowClose fails the connection of a peer that reads too slowly
// (1008, policy violation) rather than letting its queue grow.
func ExampleOverflow() {
	a, b := net.Pipe() // nobody reads b: the queue fills up
	s, err := wsutil.NewConn(a, ws.ServerSide, ws.Handshake{}, wsutil.Config{OutboundBytes: 1 << 10, Overflow: wsutil.OverflowClose})
	if err != nil {
		panic(err)
	}
	var full error
	for full == nil {
		full = s.Send(context.Background(), wsutil.Message{OpCode: ws.OpBinary, Payload: make([]byte, 512)})
	}
	fmt.Println(full)
	fmt.Println(errors.Is(full, wsutil.ErrQueueFull), s.State())
	_ = s.Terminate()
	b.Close()
	// Output:
	// wsutil: send queue full
	// true closing
}

func ExampleOverflow_String() {
	fmt.Println(wsutil.OverflowBlock, wsutil.OverflowDrop, wsutil.OverflowClose)
	fmt.Println(wsutil.OverflowTryAgain)
	// Output:
	// block drop close
	// try again later
}

// IsCleanClose tells an ordinary end of a connection (1000, 1001 or no
// code) from one worth logging.
func ExampleIsCleanClose() {
	fmt.Println(wsutil.IsCleanClose(ws.CloseError{Code: ws.StatusNormalClosure}))
	fmt.Println(wsutil.IsCleanClose(ws.CloseError{Code: ws.StatusGoingAway, Reason: "bye"}))
	fmt.Println(wsutil.IsCleanClose(ws.CloseError{Code: ws.StatusPolicyViolation}))
	fmt.Println(wsutil.IsCleanClose(errors.Join(wsutil.ErrAbnormalClosure, io.EOF)))
	// Output:
	// true
	// true
	// false
	// false
}

// ReceiveJSON decodes the next message; one that does not decode is
// consumed and its error returned, and the connection goes on.
func ExampleReceiveJSON() {
	type order struct {
		ID  int
		Qty int
	}
	a, b := net.Pipe()
	s, err := wsutil.NewConn(a, ws.ServerSide, ws.Handshake{}, wsutil.Config{})
	if err != nil {
		panic(err)
	}
	c, err := wsutil.NewConn(b, ws.ClientSide, ws.Handshake{}, wsutil.Config{})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	_ = c.Send(ctx, wsutil.Message{OpCode: ws.OpText, Payload: []byte("not json")})
	_ = wsutil.SendJSON(ctx, c, order{ID: 7, Qty: 3})

	var o order
	fmt.Println(wsutil.ReceiveJSON(ctx, s, &o) != nil)
	fmt.Println(wsutil.ReceiveJSON(ctx, s, &o), o)
	_ = s.Close(ws.StatusNormalClosure, "")
	<-c.Done()
	// Output:
	// true
	// <nil> {7 3}
}

// A Conn's State goes from open through closing to closed; a Conn made
// by NewConn, Accept or Dial is open from the start.
func ExampleState() {
	a, b := net.Pipe()
	defer b.Close()
	s, err := wsutil.NewConn(a, ws.ServerSide, ws.Handshake{}, wsutil.Config{})
	if err != nil {
		panic(err)
	}
	fmt.Println(s.State() == wsutil.StateOpen)
	_ = s.Terminate()
	fmt.Println(s.State() == wsutil.StateClosed)
	// Output:
	// true
	// true
}

func ExampleState_String() {
	fmt.Println(wsutil.StateConnecting, wsutil.StateOpen, wsutil.StateClosing, wsutil.StateClosed)
	// Output: connecting open closing closed
}

// Stats counts what went through a connection, for metrics.
func ExampleStats() {
	a, b := net.Pipe()
	s, err := wsutil.NewConn(a, ws.ServerSide, ws.Handshake{}, wsutil.Config{})
	if err != nil {
		panic(err)
	}
	c, err := wsutil.NewConn(b, ws.ClientSide, ws.Handshake{}, wsutil.Config{})
	if err != nil {
		panic(err)
	}
	_ = c.Send(context.Background(), wsutil.Message{OpCode: ws.OpText, Payload: []byte("hello")})
	m := <-s.Inbound()
	_ = s.Send(context.Background(), m)
	<-c.Inbound()
	_ = c.Close(ws.StatusNormalClosure, "")
	<-s.Done()
	st := s.Stats()
	fmt.Printf("in: %d messages, out: %d, dropped: %d\n", st.MessagesIn, st.MessagesOut, st.Dropped)
	// Output: in: 1 messages, out: 1, dropped: 0
}
