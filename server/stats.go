package server

import (
	"sync/atomic"

	"github.com/lifelinehq/lifeline/internal/engine"
)

// Stats is a snapshot of a Server's counters.
type Stats struct {
	Sessions  int64 // sessions held now, confirmed or not
	WebSocket int64 // sessions now on each transport (by the connection attached last)
	Stream    int64
	Poll      int64

	Created   uint64 // sessions created
	Resumes   uint64 // connections that resumed a session (a run of polls counts once)
	Resets    uint64 // requests for a session that is unknown or gone (the client resets)
	Fallbacks uint64 // sessions moved to a lower transport (websocket > stream > poll)
	Upgrades  uint64 // sessions moved to a higher transport

	MessagesIn, MessagesOut uint64
	BytesIn, BytesOut       uint64 // frame bytes, without HTTP and WebSocket headers

	// Payload bytes held in the sessions' queues now: written and not yet acknowledged
	// by the client (out), received and not yet read by the handler (in). Summed over
	// the sessions, so Stats takes time in proportion to the sessions held.
	QueuedOut, QueuedIn int64
}

// Stats returns the counters. It is safe to call at any time.
func (srv *Server) Stats() Stats {
	c := &srv.stats
	var qOut, qIn int64
	srv.sessions.each(func(s *engine.Session) bool {
		o, i := s.Queued()
		qOut, qIn = qOut+int64(o), qIn+int64(i)
		return true
	})
	return Stats{QueuedOut: qOut, QueuedIn: qIn,
		Sessions: srv.count.Load(), WebSocket: c.on[0].Load(), Stream: c.on[1].Load(), Poll: c.on[2].Load(),
		Created: c.created.Load(), Resumes: c.resumes.Load(), Resets: c.resets.Load(),
		Fallbacks: c.fallbacks.Load(), Upgrades: c.upgrades.Load(),
		MessagesIn: c.msgsIn.Load(), MessagesOut: c.msgsOut.Load(),
		BytesIn: c.bytesIn.Load(), BytesOut: c.bytesOut.Load(),
	}
}

type counters struct {
	on                                            [3]atomic.Int64
	created, resumes, resets, fallbacks, upgrades atomic.Uint64
	msgsIn, msgsOut, bytesIn, bytesOut            atomic.Uint64
}

// Transport names, in order of preference.
const (
	nameWebSocket = "websocket"
	nameStream    = "stream"
	namePoll      = "poll"
)

func rank(name string) int {
	switch name {
	case nameWebSocket:
		return 0
	case nameStream:
		return 1
	case namePoll:
		return 2
	}
	return -1
}

// moved records an attach of a connection of transport name to a session whose last
// one was prev (numbered prevConn; this one conn).
func (c *counters) moved(prev, name string, prevConn, conn uint64, created bool) {
	if !created && (prev != name || prevConn != conn) {
		c.resumes.Add(1)
	}
	if prev == name {
		return
	}
	if r := rank(prev); r >= 0 {
		c.on[r].Add(-1)
		if rank(name) > r {
			c.fallbacks.Add(1)
		} else {
			c.upgrades.Add(1)
		}
	}
	c.on[rank(name)].Add(1)
}

func (c *counters) gone(name string) {
	if r := rank(name); r >= 0 {
		c.on[r].Add(-1)
	}
}

func (c *counters) out(msgs, bytes int) {
	c.msgsOut.Add(uint64(msgs))
	c.bytesOut.Add(uint64(bytes))
}

func (c *counters) in(msgs, bytes int) {
	c.msgsIn.Add(uint64(msgs))
	c.bytesIn.Add(uint64(bytes))
}
