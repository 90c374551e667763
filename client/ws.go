package client

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/lifelinehq/lifeline/closecode"
	"github.com/lifelinehq/lifeline/internal/engine"
	"github.com/lifelinehq/lifeline/session"
	"github.com/lifelinehq/lifeline/transport"
)

// wsConn is a WebSocket connection: every frame is a text message, binary messages
// travel as binary WebSocket messages (docs/protocol.md §2).
type wsConn struct {
	c      *Conn
	g      *gen
	ws     *websocket.Conn
	ctx    context.Context
	cancel context.CancelCauseFunc
	hello  *transport.Hello
	told   uint64 // the ack the last R frame gave the server
}

// dialWS opens a WebSocket, sends req as its first frame and waits for the hello, all
// within ctx (the WebSocket deadline).
func (c *Conn) dialWS(ctx context.Context, g *gen, req *transport.ResumeReq) (*wsConn, *transport.Hello, error) {
	ws, resp, err := websocket.Dial(ctx, c.mount.endpoint("ws"), &websocket.DialOptions{
		HTTPClient:      c.opts.HTTPClient,
		HTTPHeader:      c.opts.Header,
		CompressionMode: websocket.CompressionDisabled,
	})
	if err != nil {
		if resp != nil && resp.StatusCode != 101 {
			if rerr := responseError(resp); rerr != nil {
				return nil, nil, rerr
			}
		}
		return nil, nil, err
	}
	ws.SetReadLimit(int64(max(g.s.Config().MaxMessage+256, 16<<10)))
	w := &wsConn{c: c, g: g, ws: ws}
	w.ctx, w.cancel = context.WithCancelCause(c.ctx)
	h, err := w.handshake(ctx, req)
	if err != nil {
		w.abort()
		return nil, nil, err
	}
	return w, h, nil
}

// handshake sends an R frame and reads the hello that answers it. A second R on a
// connection whose own session is unconfirmed moves a live session onto it (§3).
func (w *wsConn) handshake(ctx context.Context, req *transport.ResumeReq) (*transport.Hello, error) {
	w.told = req.Ack
	if err := w.send(ctx, websocket.MessageText, transport.AppendResume(nil, req)); err != nil {
		return nil, err
	}
	typ, data, err := w.ws.Read(ctx)
	if err != nil {
		return nil, w.readError(err)
	}
	w.c.stats.bytesIn.Add(uint64(len(data)))
	if typ != websocket.MessageText {
		return nil, engine.Protocolf("binary message before the hello")
	}
	f, err := transport.ParseFrame(data)
	if err != nil {
		return nil, &engine.ProtocolError{Reason: err.Error()}
	}
	h, err := helloOf(f)
	if err != nil {
		return nil, err
	}
	w.hello = h
	return h, nil
}

// readError turns a read error into a close code where the server sent one. The
// reserved "no status" codes mean a plain network failure; 1009 (message too big) is
// 4413 (docs/protocol.md §7).
func (w *wsConn) readError(err error) error {
	if errors.Is(err, websocket.ErrMessageTooBig) {
		return &session.CloseError{Code: closecode.TooLarge, Reason: err.Error()}
	}
	var ce websocket.CloseError
	if errors.As(err, &ce) {
		switch ce.Code {
		case websocket.StatusNoStatusRcvd, websocket.StatusAbnormalClosure, websocket.StatusTLSHandshake:
			return err
		case websocket.StatusMessageTooBig:
			return peerClose(closecode.TooLarge, ce.Reason)
		}
		return peerClose(closecode.Code(ce.Code), ce.Reason)
	}
	return err
}

// acked returns the ack the R frame gave the server.
func (w *wsConn) acked() uint64 { return w.told }

func (w *wsConn) send(ctx context.Context, typ websocket.MessageType, p []byte) error {
	if err := w.ws.Write(ctx, typ, p); err != nil {
		return err
	}
	w.c.stats.bytesOut.Add(uint64(len(p)))
	return nil
}

// confirm confirms the session this connection created (§3).
func (w *wsConn) confirm(ctx context.Context) error {
	return w.send(ctx, websocket.MessageText, transport.AppendNum(nil, transport.FrameAck, 0))
}

// abort drops the connection. Safe at any time and more than once.
func (w *wsConn) abort() {
	w.cancel(errAborted)
	w.ws.CloseNow()
}

// run carries the session until the connection ends: one goroutine reads, one writes.
func (w *wsConn) run(l *engine.Link, in *engine.Inbound) error {
	defer w.abort()
	ctx, cancel := w.ctx, w.cancel
	stop := watch(in, deadline(w.hello), cancel)
	defer stop()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		cancel(w.writeLoop(ctx, l, heartbeat(w.hello)))
	}()
	cancel(w.readLoop(ctx, in))
	w.ws.CloseNow()
	wg.Wait()
	return context.Cause(ctx)
}

func (w *wsConn) readLoop(ctx context.Context, in *engine.Inbound) error {
	count := func(_ websocket.MessageType, _ *transport.Frame, raw []byte) (bool, error) {
		w.c.stats.bytesIn.Add(uint64(len(raw)))
		return false, nil
	}
	err := engine.ReadWebSocket(ctx, w.ws, in, count, nil)
	var pe *engine.ProtocolError
	var pc *engine.PeerClose
	switch {
	case ctx.Err() != nil:
		return context.Cause(ctx)
	case errors.As(err, &pe), errors.As(err, &pc):
		return inboundErr(err)
	}
	return w.readError(err)
}

// writeLoop sends what the link hands out, and a heartbeat (with any unsent ack) when
// nothing went out for hb.
func (w *wsConn) writeLoop(ctx context.Context, l *engine.Link, hb time.Duration) error {
	var b engine.Batch
	ww := engine.WSWriter{WS: w.ws, Wrote: func(n int) { w.c.stats.bytesOut.Add(uint64(n)) }}
	t := time.NewTimer(hb)
	defer t.Stop()
	beat := false
	for {
		l.Pull(&b, 128, 256<<10, beat)
		if b.Gone != nil {
			return errGone
		}
		sent, err := ww.Write(ctx, &b, beat && !b.HasAck && len(b.Msgs) == 0)
		if err != nil {
			return err
		}
		beat = false
		if b.Close != nil {
			if err := ww.Text(ctx, transport.AppendClose(nil, b.Close.Code, b.Close.Reason)); err != nil {
				return err
			}
			l.CloseSent()
			w.ws.Close(websocket.StatusCode(b.Close.Code), transport.Reason(b.Close.Reason))
			return errClosed
		}
		if sent {
			t.Reset(hb)
		}
		if l.More() {
			continue
		}
		select {
		case <-l.Wake():
		case <-t.C:
			beat = true
			t.Reset(hb)
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
}
