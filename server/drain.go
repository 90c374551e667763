package server

import (
	"net/http"
	"sync"
	"time"

	"github.com/lifelinehq/lifeline/closecode"
	"github.com/lifelinehq/lifeline/internal/engine"
	"github.com/lifelinehq/lifeline/transport"
)

// drain is Shutdown's last step (docs/protocol.md §13): the sessions are ended, but a
// polling client between two polls, or a streaming one between two streams, has no
// connection to be told on. For a while every request naming a session is answered
// 503 with C4503 and Retry-After, and Shutdown waits until each such client has been
// answered so, or the drain period ends. It is safe for concurrent use.
type drain struct {
	mu      sync.Mutex
	waiting map[string]struct{} // sessions whose clients have not been told
	empty   chan struct{}       // closed when waiting is empty
}

// begin notes the sessions whose clients will learn of the shutdown only from their
// next request: those of the HTTP transports with no connection attached, and every
// poll session (a poll may have ended just before its session did). Unconfirmed
// sessions are left out: their clients may never come back.
func (d *drain) begin(srv *Server) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.waiting != nil {
		return // a second Shutdown
	}
	d.waiting = make(map[string]struct{})
	d.empty = make(chan struct{})
	srv.sessions.each(func(s *engine.Session) bool {
		t := s.Transport()
		if srv.adm.isPending(s) || (t != namePoll && !(t == nameStream && !s.Attached())) {
			return true
		}
		d.waiting[s.ID()] = struct{}{}
		return true
	})
	if len(d.waiting) == 0 {
		close(d.empty)
	}
}

// told notes that the client of session id has been answered with 4503.
func (d *drain) told(id string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.waiting[id]; ok {
		delete(d.waiting, id)
		if len(d.waiting) == 0 {
			close(d.empty)
		}
	}
}

func (d *drain) left() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.waiting)
}

// refuseDuringShutdown answers a request that names a session with 503 and C4503
// once Shutdown has begun, and reports whether it did. It runs before the session is
// looked up, so the answer does not depend on what the server still remembers.
func (srv *Server) refuseDuringShutdown(w http.ResponseWriter, r *http.Request) bool {
	id := r.Header.Get(transport.HeaderSession)
	if !srv.closing.Load() || id == "" || srv.opts.Router.Relay(id) != nil {
		return false // another node's session is relayed as usual (a cluster)
	}
	srv.fail(w, r, closecode.Shutdown, "server shutting down")
	return true
}

// awaitDrain waits, at most for the drain period, until every client noted by begin
// has been told.
func (srv *Server) awaitDrain(done <-chan struct{}) {
	if srv.opts.ShutdownDrain < 0 {
		return
	}
	n := srv.drain.left()
	if n == 0 {
		return
	}
	srv.log.Info("lifeline: shutdown draining: waiting for clients between requests to be told 4503",
		"clients", n, "period", srv.opts.ShutdownDrain)
	t := time.NewTimer(srv.opts.ShutdownDrain)
	defer t.Stop()
	select {
	case <-srv.drain.empty:
	case <-t.C:
		srv.log.Info("lifeline: shutdown drain period over", "untold", srv.drain.left())
	case <-done:
	}
}
