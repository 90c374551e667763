package client

import (
	"context"
	"errors"
	"time"

	"github.com/lifelinehq/lifeline/internal/engine"
	"github.com/lifelinehq/lifeline/transport"
)

// newInbound returns the engine's Inbound for one connection of g; its acks also
// advance g's count of acknowledged messages.
func newInbound(g *gen) *engine.Inbound {
	in := engine.NewInbound(g.s)
	in.Ack = g.ack
	return in
}

// inboundErr is what ended an Inbound, as the client's errors: a C frame is the
// server's close.
func inboundErr(err error) error {
	var pc *engine.PeerClose
	if errors.As(err, &pc) {
		return peerClose(pc.Code, pc.Reason)
	}
	return err
}

// watch cancels the connection with errSilent when the server has been silent for d
// (docs/protocol.md §6). The returned func stops it.
func watch(in *engine.Inbound, d time.Duration, cancel context.CancelCauseFunc) (stop func()) {
	return in.Watch(d, func() { cancel(errSilent) })
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
