package engine

import (
	"context"

	"github.com/coder/websocket"

	"github.com/lifelinehq/lifeline/session"
	"github.com/lifelinehq/lifeline/transport"
)

// WSWriter writes a link's batches to a WebSocket (docs/protocol.md §2), for either
// end: a binary message as a binary WebSocket message, every other frame as a text
// message of its own. Not safe for concurrent use: one writer goroutine owns it.
type WSWriter struct {
	WS *websocket.Conn
	// Wrote counts the bytes of each message written; nil counts nothing.
	Wrote func(n int)

	next uint64 // the number the peer gives the next data frame without an S frame
	buf  []byte
}

// Write sends what b carries but its close: P first when ping (a heartbeat), the ack,
// an S frame when the first message's number needs one, the messages, then the P of a
// graceful close (b.Ping). It reports whether anything went out. The close (b.Close)
// is the caller's: the ends send it differently.
func (w *WSWriter) Write(ctx context.Context, b *Batch, ping bool) (bool, error) {
	sent := false
	if ping {
		if err := w.send(ctx, websocket.MessageText, []byte{transport.FramePing}); err != nil {
			return sent, err
		}
		sent = true
	}
	if b.HasAck {
		w.buf = transport.AppendNum(w.buf[:0], transport.FrameAck, b.Ack)
		if err := w.send(ctx, websocket.MessageText, w.buf); err != nil {
			return sent, err
		}
		sent = true
	}
	if len(b.Msgs) > 0 && b.Seq != w.next {
		w.buf = transport.AppendNum(w.buf[:0], transport.FrameSeq, b.Seq)
		if err := w.send(ctx, websocket.MessageText, w.buf); err != nil {
			return sent, err
		}
	}
	for _, m := range b.Msgs {
		var err error
		if m.Type == session.Binary {
			err = w.send(ctx, websocket.MessageBinary, m.Data)
		} else {
			w.buf = transport.AppendText(w.buf[:0], m.Data)
			err = w.send(ctx, websocket.MessageText, w.buf)
		}
		if err != nil {
			return sent, err
		}
		sent = true
	}
	if len(b.Msgs) > 0 {
		w.next = b.Seq + uint64(len(b.Msgs))
	}
	if b.Ping && !ping {
		if err := w.send(ctx, websocket.MessageText, []byte{transport.FramePing}); err != nil {
			return sent, err
		}
		sent = true
	}
	return sent, nil
}

// Reset forgets the numbering: the next data frame goes with an S frame.
func (w *WSWriter) Reset() { w.next = 0 }

// Text sends one text frame (a C frame, a confirmation).
func (w *WSWriter) Text(ctx context.Context, frame []byte) error {
	return w.send(ctx, websocket.MessageText, frame)
}

func (w *WSWriter) send(ctx context.Context, typ websocket.MessageType, p []byte) error {
	if err := w.WS.Write(ctx, typ, p); err != nil {
		return err
	}
	if w.Wrote != nil {
		w.Wrote(len(p))
	}
	return nil
}

// ReadWebSocket reads messages from ws into in until the connection fails or a frame
// ends it, for either end: a binary message is a binary data message, a text message
// one frame. Each message is first offered to pre, when set, with its parsed frame
// (zero for a binary message): pre handles what is not the engine's (R, H) and reports
// whether it did; an error from pre ends the read. delivered, when set, is called for
// each new message delivered. ReadWebSocket returns what ended it: ws.Read's error,
// a *ProtocolError, a *PeerClose, or the session's refusal of a message.
func ReadWebSocket(ctx context.Context, ws *websocket.Conn, in *Inbound,
	pre func(typ websocket.MessageType, f *transport.Frame, raw []byte) (bool, error), delivered func()) error {
	for {
		typ, data, err := ws.Read(ctx)
		if err != nil {
			return err
		}
		var f transport.Frame
		if typ == websocket.MessageText {
			if f, err = transport.ParseFrame(data); err != nil {
				return &ProtocolError{err.Error()}
			}
			if f.Type == transport.FrameBinary {
				return Protocolf("a B frame on a WebSocket: binary messages go as binary messages")
			}
		}
		if pre != nil {
			done, err := pre(typ, &f, data)
			if err != nil {
				return err
			}
			if done {
				continue
			}
		}
		var ok bool
		if typ == websocket.MessageBinary {
			ok, err = in.Data(ctx, session.Binary, data)
		} else {
			ok, err = in.Frame(ctx, f)
		}
		if err != nil {
			return err
		}
		if ok && delivered != nil {
			delivered()
		}
	}
}
