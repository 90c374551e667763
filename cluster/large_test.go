package cluster_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/lifelinehq/lifeline/client"
	"github.com/lifelinehq/lifeline/integration/faultproxy"
	"github.com/lifelinehq/lifeline/session"
)

// TestClusterLargeBodies: with NATS's max_payload at 32 KiB, relayed POST bodies
// and responses far larger (batches of 40 KiB messages) and WebSocket messages
// larger than a NATS message cross in several numbered messages, exactly once and
// in order.
func TestClusterLargeBodies(t *testing.T) {
	ns := startNATSConf(t, "max_payload: 32768")
	tc := newTestCluster(t, ns, echo, "a", "b", "c")
	fp, err := faultproxy.New(strings.TrimPrefix(tc.front.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer fp.Close()
	big := bytes.Repeat([]byte("x"), 40<<10)
	for _, tr := range []string{"poll", "stream", "websocket"} {
		t.Run(tr, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			relayed := tc.relayed()
			c := dial(t, ctx, "http://"+fp.Addr(), tr)
			// Until relayed: a WebSocket comes back on a random node after each cut.
			for round := 0; round == 0 || tc.relayed() == relayed; round++ {
				fp.CutAll()
				bigExchange(t, ctx, c, big, round, 30)
			}
			if s := c.Stats(); s.Resets != 0 {
				t.Errorf("reset: %+v", s)
			}
		})
	}
}

func bigExchange(t *testing.T, ctx context.Context, c *client.Conn, big []byte, round, n int) {
	t.Helper()
	werr := make(chan error, 1)
	go func() {
		for i := range n {
			if err := c.Write(ctx, session.Text, fmt.Appendf(nil, "%d.%d:%s", round, i, big)); err != nil {
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
		if want := fmt.Sprintf("%d.%d:%s", round, i, big); string(p) != want {
			t.Fatalf("message %d.%d: got %.20q (%d bytes)", round, i, p, len(p))
		}
	}
	if err := <-werr; err != nil {
		t.Fatal(err)
	}
}
