package server

import (
	"context"
	"net/http"
	"sync"

	"github.com/lifelinehq/lifeline/closecode"
	"github.com/lifelinehq/lifeline/internal/engine"
)

// gate counts work under way (handlers, WebSocket connections) and refuses new work
// once closed, so that waiting for the work never races a new start: a
// sync.WaitGroup's Add must not run concurrently with Wait when the count is zero.
type gate struct {
	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup
}

// enter counts one more unit of work, or reports false once the gate is closed.
func (g *gate) enter() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return false
	}
	g.wg.Add(1)
	return true
}

func (g *gate) leave() { g.wg.Done() }

// close refuses new work from now on.
func (g *gate) close() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
}

// connSet tracks hijacked WebSocket connections, which http.Server.Shutdown does not
// close, and relayed ones.
type connSet struct {
	mu sync.Mutex
	m  map[MessageConn]struct{}
	gate
}

func (c *connSet) init() { c.m = make(map[MessageConn]struct{}) }

func (c *connSet) add(conn MessageConn) {
	c.mu.Lock()
	c.m[conn] = struct{}{}
	c.mu.Unlock()
}

func (c *connSet) remove(conn MessageConn) {
	c.mu.Lock()
	delete(c.m, conn)
	c.mu.Unlock()
}

func (c *connSet) closeAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for conn := range c.m {
		conn.CloseNow()
	}
}

// Shutdown stops the server: new sessions are refused (503, close code 4503), every
// session is closed with code 4503 so its client reconnects elsewhere, and Shutdown
// waits for the handlers to return and the WebSocket connections to end. Then it
// drains: for up to Options.ShutdownDrain, every request naming a session is answered
// 503 with C4503 and Retry-After, so that a client that had no connection open (a
// poller between two polls) still learns the server is going; Shutdown returns as
// soon as every such client has been told. When ctx is done first it closes the
// remaining WebSocket connections at once and returns ctx.Err(). Call it before
// http.Server.Shutdown, which stops answering requests and does not close hijacked
// connections. Safe to call more than once.
func (srv *Server) Shutdown(ctx context.Context) error {
	defer srv.shutdownInspector(ctx) // inspect.go
	// The drain notes whom to wait for before any client can be told, and while the
	// sessions are still registered.
	srv.drain.begin(srv)
	srv.closing.Store(true)
	srv.handlers.close()
	srv.conns.close()
	srv.sessions.each(func(s *engine.Session) bool {
		s.CloseNow(closecode.Shutdown, "server shutting down")
		return true
	})
	done := make(chan struct{})
	go func() {
		srv.handlers.wg.Wait()
		srv.conns.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		srv.awaitDrain(ctx.Done())
		return ctx.Err()
	case <-ctx.Done():
		srv.conns.closeAll()
		<-done
		return ctx.Err()
	}
}

// ShutdownWith ties this Server's shutdown to hs's: hs.Shutdown then first shuts
// this Server down (through hs.RegisterOnShutdown), so that its streams and held polls
// end with 4503 at once instead of holding hs.Shutdown until its deadline. Call
// Shutdown afterwards as well to wait for the handlers; either order then works.
func (srv *Server) ShutdownWith(hs *http.Server) {
	hs.RegisterOnShutdown(func() {
		o := &srv.opts
		ctx, cancel := context.WithTimeout(context.Background(), o.Heartbeat+o.HeartbeatTimeout)
		defer cancel()
		srv.Shutdown(ctx)
	})
}
