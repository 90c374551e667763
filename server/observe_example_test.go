package server_test

import (
	"context"
	"log"
	"time"

	"github.com/lifelinehq/lifeline/closecode"
	"github.com/lifelinehq/lifeline/server"
	"github.com/lifelinehq/lifeline/session"
)

// Observe reports how sessions end and how broadcasts go (package metrics exports
// them to Prometheus).
func ExampleServer_Observe() {
	srv := server.New(server.HandlerFunc(func(ctx context.Context, s *session.Session) {}), nil)
	remove := srv.Observe(server.Observer{
		Closed: func(code closecode.Code, transport string) {
			if code.Action() != closecode.Reconnect && code != closecode.Normal {
				log.Printf("a session on %s stopped with %d", transport, code)
			}
		},
		Broadcast: func(group string, reached int, took time.Duration) {
			if took > 100*time.Millisecond {
				log.Printf("slow broadcast to %q: %d sessions in %v", group, reached, took)
			}
		},
	})
	defer remove()
}
