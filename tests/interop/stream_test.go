package interop

import (
	"context"
	"errors"
	"net"
	"time"

	"github.com/sluice-ws/sluice/ws"
	"github.com/sluice-ws/sluice/wsutil"
)

// streamLocal is our server end as a program that uses packages ws and
// wsflate without wsutil.Conn does it (wsflate's doc): ws.Upgrader with
// the Extension hook, then a wsutil.Reader and a wsutil.Writer carrying
// the Receiver and Sender of the extension's Bind, a ControlHandler
// answering control frames. Like helperLocal, whose connection handling
// it shares, it is used from one goroutine at a time.
type streamLocal struct {
	*helperLocal
	r  *wsutil.Reader
	w  *wsutil.Writer
	ch wsutil.ControlHandler
}

// newStreamLocal binds cfg.Extension (when set) to what h's handshake
// accepted; it fails as wsutil.NewConn would.
func newStreamLocal(h *helperLocal, cfg wsutil.Config) (*streamLocal, error) {
	l := &streamLocal{helperLocal: h}
	l.ch = wsutil.ControlHandler{Dst: h.rw.Writer, Side: ws.ServerSide}
	l.r = wsutil.NewReader(h.rw.Reader, ws.ServerSide)
	l.r.OnControl = l.ch.Handle
	l.w = wsutil.NewWriter(h.rw.Writer, ws.ServerSide, ws.OpText)
	l.w.FragmentSize = cfg.FragmentSize
	if cfg.Extension != nil {
		recv, send, err := cfg.Extension.Bind(ws.ServerSide, h.accepted)
		if err != nil {
			return nil, err
		}
		l.r.Extension, l.w.Extension = recv, send
	}
	return l, nil
}

// Send writes m through the Writer: its size is not known to the
// extension up front, so even a small message is compressed.
func (l *streamLocal) Send(ctx context.Context, m wsutil.Message) error {
	defer l.bound(ctx)()
	l.w.Reset(l.rw.Writer, ws.ServerSide, m.OpCode) // keeps Extension and FragmentSize
	if _, err := l.w.Write(m.Payload); err != nil {
		return err
	}
	if err := l.w.Flush(); err != nil {
		return err
	}
	return l.rw.Flush()
}

// read reads one message and deals with the end of the connection, as
// helperLocal.read does.
func (l *streamLocal) read(ctx context.Context) (wsutil.Message, error) {
	if l.done {
		return wsutil.Message{}, net.ErrClosed
	}
	defer l.bound(ctx)()
	op, p, err := l.r.ReadMessage(nil)
	// The ControlHandler wrote its replies into the buffer: push them out.
	ferr := l.rw.Flush()
	var pe *ws.ProtocolError
	switch {
	case err == nil:
		return wsutil.Message{OpCode: op, Payload: p}, ferr
	case errors.As(err, &pe):
		// RFC 6455 §7.1.7, then linger (see helperLocal.read).
		_ = wsutil.WriteClose(l.rw, ws.ServerSide, pe.Code, pe.Reason)
		_ = l.rw.Flush()
		l.linger()
	}
	l.done = true
	_ = l.tap.Close()
	return wsutil.Message{}, err
}

func (l *streamLocal) Recv(ctx context.Context) (wsutil.Message, error) { return l.read(ctx) }

// Close sends our close frame, reads (through the extension, so that a
// compressed message still in flight is no error) until the peer's close
// frame, and closes TCP: a server closes first (RFC 6455 §7.1.1).
func (l *streamLocal) Close(code ws.StatusCode, reason string) error {
	ctx, cancel := context.WithTimeout(context.Background(), l.closeTimeout())
	defer cancel()
	stop := l.bound(ctx)
	err := wsutil.WriteClose(l.rw, ws.ServerSide, code, reason)
	if err == nil {
		err = l.rw.Flush()
	}
	l.ch.CloseSent = true
	for err == nil {
		_, _, err = l.r.ReadMessage(nil)
	}
	stop()
	l.done = true
	_ = l.tap.Close()
	var ce ws.CloseError
	if errors.As(err, &ce) {
		return nil
	}
	return err
}

func (l *streamLocal) Wait(ctx context.Context) (int, error) {
	stray := 0
	for {
		_, err := l.read(ctx)
		if err != nil {
			return stray, err
		}
		stray++
	}
}

func (l *streamLocal) Ping(context.Context) (time.Duration, error) {
	return 0, errors.ErrUnsupported
}
