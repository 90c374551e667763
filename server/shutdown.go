package server

import (
	"context"
	"sync"

	"github.com/coder/websocket"

	"github.com/lifelinehq/lifeline/session"
	"github.com/lifelinehq/lifeline/transport"
)

// connSet tracks hijacked WebSocket connections, which http.Server.Shutdown does not
// close.
type connSet struct {
	mu sync.Mutex
	m  map[*websocket.Conn]struct{}
	wg sync.WaitGroup // one per WebSocket connection being served
}

func (c *connSet) init() { c.m = make(map[*websocket.Conn]struct{}) }

func (c *connSet) add(conn *websocket.Conn) {
	c.mu.Lock()
	c.m[conn] = struct{}{}
	c.mu.Unlock()
}

func (c *connSet) remove(conn *websocket.Conn) {
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
// waits for the handlers to return and the WebSocket connections to end. When ctx is
// done first it closes the remaining WebSocket connections at once and returns
// ctx.Err(). Call it alongside http.Server.Shutdown, which does not close hijacked
// connections. Safe to call more than once.
func (srv *Server) Shutdown(ctx context.Context) error {
	srv.closing.Store(true)
	srv.opts.Store.Range(func(s *session.Session) bool {
		s.CloseNow(transport.CodeShutdown, "server shutting down")
		return true
	})
	done := make(chan struct{})
	go func() {
		srv.handlers.Wait()
		srv.conns.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		srv.conns.closeAll()
		<-done
		return ctx.Err()
	}
}
