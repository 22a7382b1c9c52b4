package wsutil

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/sluice-ws/sluice/ws"
)

// Sender sends messages: a Conn or a Client.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// Receiver receives messages: a Conn or a Client.
type Receiver interface {
	Receive(ctx context.Context) (Message, error)
}

// SendJSON sends v, encoded with encoding/json, as one text message
// (coder's wsjson.Write). Errors are the encoder's, or Send's.
func SendJSON(ctx context.Context, s Sender, v any) error {
	p, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("wsutil: json: %w", err)
	}
	return s.Send(ctx, Message{OpCode: ws.OpText, Payload: p})
}

// ReceiveJSON receives the next message and decodes it into v with
// encoding/json (coder's wsjson.Read); text and binary messages alike.
// A message that does not decode is consumed and its error returned,
// wrapping the decoder's (*json.SyntaxError, *json.UnmarshalTypeError);
// the connection goes on. The message's buffer is released.
func ReceiveJSON(ctx context.Context, r Receiver, v any) error {
	m, err := r.Receive(ctx)
	if err != nil {
		return err
	}
	defer m.Release()
	if err := json.Unmarshal(m.Payload, v); err != nil {
		return fmt.Errorf("wsutil: json: %w", err)
	}
	return nil
}
