package cluster_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/lifelinehq/lifeline/integration/faultproxy"
	"github.com/lifelinehq/lifeline/session"
	"github.com/lifelinehq/lifeline/transport"
)

// BenchmarkEcho measures one echo round trip (write, read the echo) on each
// transport, local (every request on the owner) against relayed (the session is
// created on node a, and every later request, WebSocket included, lands on node b
// and is relayed to a over NATS).
func BenchmarkEcho(b *testing.B) {
	ns := startNATS(b)
	tc := newTestCluster(b, ns, echo, "a", "b")
	a, bn := tc.nodes[0], tc.nodes[1]
	for _, mode := range []string{"local", "relayed"} {
		var wsSeen atomic.Int64
		front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			creation := r.Header.Get(transport.HeaderSession) == "" &&
				(r.Header.Get("Upgrade") == "" || wsSeen.Add(1) == 1)
			if mode == "local" || creation {
				a.srv.ServeHTTP(w, r)
			} else {
				bn.srv.ServeHTTP(w, r)
			}
		}))
		fp, err := faultproxy.New(strings.TrimPrefix(front.URL, "http://"))
		if err != nil {
			b.Fatal(err)
		}
		for _, tr := range []string{"websocket", "stream", "poll"} {
			b.Run(mode+"/"+tr, func(b *testing.B) {
				ctx := context.Background()
				wsSeen.Store(0)
				relayed := tc.relayed()
				c := dialB(b, ctx, "http://"+fp.Addr(), tr)
				if tr == "websocket" {
					fp.CutAll() // the WebSocket comes back through b
				}
				msg := []byte("0123456789abcdef0123456789abcdef")
				roundTrip := func() {
					if err := c.Write(ctx, session.Text, msg); err != nil {
						b.Fatal(err)
					}
					if _, _, err := c.Read(ctx); err != nil {
						b.Fatal(err)
					}
				}
				roundTrip()
				b.ResetTimer()
				for b.Loop() {
					roundTrip()
				}
				b.StopTimer()
				if mode == "relayed" && tc.relayed() == relayed {
					b.Fatal("nothing relayed")
				}
				c.CloseNow()
			})
		}
		fp.Close()
		front.Close()
	}
}
