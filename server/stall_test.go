package server_test

import (
	"context"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/lifelinehq/lifeline/closecode"
	"github.com/lifelinehq/lifeline/server"
	"github.com/lifelinehq/lifeline/session"
	"github.com/lifelinehq/lifeline/transport"
)

// TestStalledWriterIsClosed: a client that acks and sends heartbeats but never reads
// leaves the server's writer blocked on a full socket. When the session then ends,
// the watchdog closes the connection rather than leave it and its goroutines behind.
func TestStalledWriterIsClosed(t *testing.T) {
	const n = 400 // 64 KiB messages: 25 MiB, far past loopback socket buffers
	var written atomic.Int64
	ended := make(chan struct{})
	srv, base := start(t, server.HandlerFunc(func(ctx context.Context, s *session.Session) {
		defer close(ended)
		msg := make([]byte, 64<<10)
		for range n {
			if s.Write(ctx, session.Binary, msg) != nil {
				return
			}
			written.Add(1)
		}
		s.CloseNow(closecode.Overflow, "test: session ends while the writer is stuck")
	}), &server.Options{Heartbeat: 200 * time.Millisecond, HeartbeatTimeout: time.Minute})

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	c.Write(ctx, websocket.MessageText, transport.AppendResume(nil, &transport.ResumeReq{V: 1}))
	// Read the hello only; from now on this client never reads again.
	if _, p, err := c.Read(ctx); err != nil || p[0] != 'H' {
		t.Fatalf("hello: %q %v", p, err)
	}
	c.Write(ctx, websocket.MessageText, []byte("A0"))
	// Ack whatever the handler has queued, and keep the connection audibly alive.
	go func() {
		for ctx.Err() == nil {
			if err := c.Write(ctx, websocket.MessageText, []byte("A"+strconv.FormatInt(written.Load(), 10))); err != nil {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	select {
	case <-ended:
	case <-ctx.Done():
		t.Fatalf("handler stuck after %d writes", written.Load())
	}
	// Shutdown waits for the WebSocket connections; it returns nil only if the
	// watchdog closed the stalled one (otherwise it force-closes and returns ctx.Err()).
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer scancel()
	if err := srv.Shutdown(sctx); err != nil {
		t.Fatalf("Shutdown: %v: the stalled connection was still open", err)
	}
}
