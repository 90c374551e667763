package client

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lifelinehq/lifeline/closecode"
	"github.com/lifelinehq/lifeline/internal/engine"
	"github.com/lifelinehq/lifeline/session"
	"github.com/lifelinehq/lifeline/transport"
)

// inbound takes the frames a connection receives into the session: data frames are
// numbered from the last S frame and delivered, acks release the replay buffer, a
// close frame ends the connection. One per connection; frame is called by one
// goroutine at a time, the liveness fields are read by the watchdog.
type inbound struct {
	c    *Conn
	g    *gen
	next uint64 // number of the next data frame; 0 until an S frame

	heard atomic.Int64 // unix ns when a frame last arrived
	busy  atomic.Bool  // waiting for the application to read: not silence
}

func newInbound(c *Conn, g *gen) *inbound {
	in := &inbound{c: c, g: g}
	in.heard.Store(time.Now().UnixNano())
	return in
}

// body starts a new HTTP body: its data frames are numbered by its own S frame.
func (in *inbound) body() { in.next = 0 }

// frame processes one control or text frame. It returns a *session.CloseError for a
// C frame and a protocol error for anything the server may not send.
func (in *inbound) frame(ctx context.Context, f transport.Frame) error {
	in.heard.Store(time.Now().UnixNano())
	switch f.Type {
	case transport.FrameSeq:
		in.next = f.Num
	case transport.FrameText:
		return in.data(ctx, session.Text, f.Data)
	case transport.FrameBinary:
		return in.data(ctx, session.Binary, f.Data)
	case transport.FrameAck:
		if err := in.g.ack(f.Num); err != nil {
			return protoErrorf("ack %d of a message never sent", f.Num)
		}
	case transport.FramePing:
		in.g.s.PeerPinged()
	case transport.FrameClose:
		return peerClose(closecode.Code(f.Num), string(f.Data))
	default:
		return protoErrorf("unexpected %q frame", f.Type)
	}
	return nil
}

// data delivers one message; p becomes the session's.
func (in *inbound) data(ctx context.Context, typ session.MessageType, p []byte) error {
	in.heard.Store(time.Now().UnixNano())
	if in.next == 0 {
		return protoErrorf("data frame without a sequence number")
	}
	in.busy.Store(true)
	_, err := in.g.s.Deliver(ctx, in.next, engine.Message{Type: typ, Data: p}, true)
	in.busy.Store(false)
	in.heard.Store(time.Now().UnixNano())
	switch {
	case err == nil:
	case errors.Is(err, engine.ErrProtocol):
		return protoErrorf("message %d out of sequence", in.next)
	default:
		return err
	}
	in.next++
	return nil
}

// watch ends the connection with errSilent when no frame has arrived for d, not
// counting time spent waiting for the application to read (docs/protocol.md §6). The
// returned func stops it.
func (in *inbound) watch(d time.Duration, cancel context.CancelCauseFunc) (stop func()) {
	var mu sync.Mutex
	var t *time.Timer
	stopped := false
	check := func() {
		mu.Lock()
		defer mu.Unlock()
		if stopped {
			return
		}
		quiet := time.Since(time.Unix(0, in.heard.Load()))
		switch {
		case in.busy.Load():
			t.Reset(d)
		case quiet >= d:
			cancel(errSilent)
		default:
			t.Reset(d - quiet)
		}
	}
	mu.Lock()
	t = time.AfterFunc(d, check)
	mu.Unlock()
	return func() {
		mu.Lock()
		stopped = true
		t.Stop()
		mu.Unlock()
	}
}

// heartbeat is the hello's heartbeat interval hb.
func heartbeat(h *transport.Hello) time.Duration {
	if h.Heartbeat <= 0 {
		return 15 * time.Second
	}
	return time.Duration(h.Heartbeat) * time.Millisecond
}

// deadline is hb+hbt from a hello: how long a connection may stay silent.
func deadline(h *transport.Hello) time.Duration {
	hbt := 10 * time.Second
	if h.HBTimeout > 0 {
		hbt = time.Duration(h.HBTimeout) * time.Millisecond
	}
	return heartbeat(h) + hbt
}
