package server_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/lifelinehq/lifeline/closecode"
	"github.com/lifelinehq/lifeline/server"
	"github.com/lifelinehq/lifeline/session"
	"github.com/lifelinehq/lifeline/transport"
)

// TestObserve: observers hear of every broadcast (group, sessions reached, a
// duration) and of every session's end (code, last transport) until removed.
func TestObserve(t *testing.T) {
	var srv *server.Server
	srv, base := start(t, server.HandlerFunc(func(ctx context.Context, s *session.Session) {
		srv.Join("room", s)
		if _, _, err := s.Read(ctx); err == nil {
			s.CloseNow(4321, "bye") // the raw client never acks the broadcast
		}
	}), nil)
	type closed struct {
		code closecode.Code
		tr   string
	}
	type cast struct {
		group   string
		reached int
		took    time.Duration
	}
	var (
		mu     sync.Mutex
		closes []closed
		casts  []cast
	)
	remove := srv.Observe(server.Observer{
		Closed: func(code closecode.Code, tr string) {
			mu.Lock()
			closes = append(closes, closed{code, tr})
			mu.Unlock()
		},
		Broadcast: func(group string, reached int, took time.Duration) {
			mu.Lock()
			casts = append(casts, cast{group, reached, took})
			mu.Unlock()
		},
	})
	other := srv.Observe(server.Observer{}) // nil funcs are skipped
	defer other()

	c := wsDial(t, base, transport.ResumeReq{}, nil)
	wsHello(t, c)
	wsSend(t, c, "A0")
	for srv.Broadcast("room", session.Text, []byte("x")) < 1 {
		time.Sleep(5 * time.Millisecond) // until the handler has joined
	}
	wsSend(t, c, "S1", "Mbye")
	if code := wsCloseCode(t, c); code != 4321 {
		t.Fatalf("closed with %d", code)
	}
	for srv.Stats().Sessions != 0 {
		time.Sleep(5 * time.Millisecond)
	}
	remove()
	remove() // twice is fine
	srv.Broadcast("room", session.Text, []byte("x"))

	mu.Lock()
	defer mu.Unlock()
	if len(closes) != 1 || closes[0] != (closed{4321, "websocket"}) {
		t.Errorf("closes %v, want one 4321 on websocket", closes)
	}
	last := casts[len(casts)-1]
	if last.group != "room" || last.reached != 1 || last.took <= 0 {
		t.Errorf("last broadcast observed %+v, want room reaching 1 in some time", last)
	}
	for _, c := range casts[:len(casts)-1] {
		if c.group != "room" || c.reached != 0 {
			t.Errorf("broadcast before the join observed %+v", c)
		}
	}
}
