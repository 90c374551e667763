package cluster_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/lifelinehq/lifeline/session"
)

// TestClusterLargeBodies: with NATS's max_payload at 32 KiB, relayed POST bodies
// and responses far larger (batches of 20 KiB messages) cross in several numbered
// messages, exactly once and in order.
func TestClusterLargeBodies(t *testing.T) {
	ns := startNATSConf(t, "max_payload: 32768")
	tc := newTestCluster(t, ns, echo, "a", "b", "c")
	for _, tr := range []string{"poll", "stream", "websocket"} {
		t.Run(tr, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			c := dial(t, ctx, tc.front.URL, tr)
			const n = 60
			big := bytes.Repeat([]byte("x"), 20<<10)
			werr := make(chan error, 1)
			go func() {
				for i := range n {
					if err := c.Write(ctx, session.Text, fmt.Appendf(nil, "%d:%s", i, big)); err != nil {
						werr <- err
						return
					}
				}
				werr <- nil
			}()
			for i := range n {
				_, p, err := c.Read(ctx)
				if err != nil {
					t.Fatalf("read %d: %v", i, err)
				}
				if want := fmt.Sprintf("%d:%s", i, big); string(p) != want {
					t.Fatalf("message %d: got %.20q (%d bytes)", i, p, len(p))
				}
			}
			if err := <-werr; err != nil {
				t.Fatal(err)
			}
			if s := c.Stats(); s.Resets != 0 {
				t.Errorf("reset: %+v", s)
			}
		})
	}
}
