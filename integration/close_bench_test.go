package integration

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/lifelinehq/lifeline/client"
	"github.com/lifelinehq/lifeline/server"
	"github.com/lifelinehq/lifeline/session"
)

// BenchmarkGracefulClose reports how long the Go client's Close takes (ns/op) right
// after a message whose ack it must wait for, per transport: one round trip when the
// server answers its P at once (protocol.md §5), not the server's 1 s ack delay.
func BenchmarkGracefulClose(b *testing.B) {
	url := echoServer(b, &server.Options{Logger: slog.New(slog.DiscardHandler)})
	for _, tr := range []string{"websocket", "stream", "poll"} {
		b.Run(tr, func(b *testing.B) {
			for range b.N {
				b.StopTimer()
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				c, err := client.Dial(ctx, url, &client.Options{Transports: []string{tr}})
				if err != nil {
					b.Fatal(err)
				}
				if err := c.Write(ctx, session.Text, []byte("last")); err != nil {
					b.Fatal(err)
				}
				if _, _, err := c.Read(ctx); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				if err := c.Close(1000, "done"); err != nil {
					b.Fatalf("close: %v", err)
				}
				cancel()
			}
		})
	}
}
