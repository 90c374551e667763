package engine

import (
	"bytes"
	"context"
	"io"
	"sync"

	"github.com/coder/websocket"

	"github.com/lifelinehq/lifeline/session"
	"github.com/lifelinehq/lifeline/transport"
)

// MessageWriter writes whole WebSocket messages: a *websocket.Conn, or a cluster's
// relayed WebSocket (a connection whose messages travel over NATS).
type MessageWriter interface {
	Write(ctx context.Context, typ websocket.MessageType, p []byte) error
}

// MessageReader reads whole WebSocket messages, one io.Reader each: a
// *websocket.Conn, or a cluster's relayed WebSocket.
type MessageReader interface {
	Reader(ctx context.Context) (websocket.MessageType, io.Reader, error)
}

// WSWriter writes a link's batches to a WebSocket (docs/protocol.md §2), for either
// end: a binary message as a binary WebSocket message, every other frame as a text
// message of its own. Not safe for concurrent use: one writer goroutine owns it.
type WSWriter struct {
	WS MessageWriter
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
		} else if m.frame != nil {
			err = w.send(ctx, websocket.MessageText, m.frame) // encoded once, by Copy
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
// whether it did; an error from pre ends the read. raw and the frame's data are only
// valid during the call: pre copies what it keeps. delivered, when set, is called for
// each new message delivered. ReadWebSocket returns what ended it: ws.Reader's error,
// a *ProtocolError, a *PeerClose, or the session's refusal of a message.
//
// Each message is read into a pooled buffer (no buffer is held while waiting for the
// next message), and a data message's payload is copied out of it once, into the
// slice the session keeps: no other allocation per message.
func ReadWebSocket(ctx context.Context, ws MessageReader, in *Inbound,
	pre func(typ websocket.MessageType, f *transport.Frame, raw []byte) (bool, error), delivered func()) error {
	var f transport.Frame // outside the loop: pre's pointer makes it escape, once
	for {
		typ, r, err := ws.Reader(ctx)
		if err != nil {
			return err
		}
		bp := readBufs.Get().(*[]byte)
		data, err := readMessage(r, (*bp)[:0])
		ok, err := handleMessage(ctx, in, pre, typ, data, err, &f)
		f = transport.Frame{}
		if cap(data) <= maxPooledRead {
			*bp = data[:0]
			readBufs.Put(bp)
		}
		if err != nil {
			return err
		}
		if ok && delivered != nil {
			delivered()
		}
	}
}

// handleMessage dispatches one message read into data (a pooled buffer), copying a
// data message's payload out of it.
func handleMessage(ctx context.Context, in *Inbound,
	pre func(typ websocket.MessageType, f *transport.Frame, raw []byte) (bool, error),
	typ websocket.MessageType, data []byte, err error, f *transport.Frame) (bool, error) {
	if err != nil {
		return false, err
	}
	if typ == websocket.MessageText {
		if *f, err = transport.ParseFrame(data); err != nil {
			return false, &ProtocolError{err.Error()}
		}
		if f.Type == transport.FrameBinary {
			return false, Protocolf("a B frame on a WebSocket: binary messages go as binary messages")
		}
	}
	if pre != nil {
		done, err := pre(typ, f, data)
		if err != nil || done {
			return false, err
		}
	}
	if typ == websocket.MessageBinary {
		return in.Data(ctx, session.Binary, bytes.Clone(data))
	}
	if f.Type == transport.FrameText {
		return in.Data(ctx, session.Text, bytes.Clone(f.Data))
	}
	return in.Frame(ctx, *f) // no data frame: nothing it keeps points into data
}

// maxPooledRead is the largest read buffer put back for reuse: a rare big message's
// buffer is left to the collector rather than held.
const maxPooledRead = 64 << 10

var readBufs = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// readMessage reads the rest of r, one WebSocket message, appending to buf.
func readMessage(r io.Reader, buf []byte) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}
