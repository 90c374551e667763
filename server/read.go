package server

import (
	"bytes"
	"context"
	"errors"
	"time"

	"github.com/coder/websocket"

	"github.com/lifelinehq/lifeline/closecode"
	"github.com/lifelinehq/lifeline/internal/engine"
	"github.com/lifelinehq/lifeline/transport"
)

// readLoop reads client frames until the connection ends. It returns the close code
// to send, or 0; or it sets wc.again and returns for a second R.
func (wc *wsConn) readLoop() (closecode.Code, string) {
	srv := wc.srv
	in := engine.NewInbound(wc.s)
	in.Deliver = func(_ context.Context, seq uint64, m engine.Message) (bool, error) {
		return wc.s.Deliver(wc.ctx, seq, m, true)
	}
	pre := func(typ websocket.MessageType, f *transport.Frame, raw []byte) (bool, error) {
		wc.lastRead.Store(time.Now().UnixNano())
		srv.stats.in(0, len(raw))
		if typ == websocket.MessageText && f.Type == transport.FrameResume {
			if !wc.created {
				return true, engine.Protocolf("R after confirmation")
			}
			wc.again = bytes.Clone(raw) // raw is the reader's buffer
			return true, errAgain
		}
		if wc.created {
			wc.created = false
			srv.confirm(wc.s)
		}
		return false, nil
	}
	// CloseNow ends the read; a cancellable ctx would cost an AfterFunc per read.
	err := engine.ReadWebSocket(context.Background(), wc.c, in, pre, func() { srv.stats.in(1, 0) })
	var pe *engine.ProtocolError
	var pc *engine.PeerClose
	switch {
	case errors.Is(err, errAgain):
		return 0, ""
	case errors.As(err, &pc):
		wc.s.PeerClosed(pc.Code, pc.Reason)
		return closecode.Normal, ""
	case errors.As(err, &pe):
		return closecode.Protocol, pe.Reason
	}
	return deliverRefusal(err) // 0 for a read error: the connection just ended
}

// errAgain ends the read loop for a second R frame.
var errAgain = errors.New("lifeline: a second R")
