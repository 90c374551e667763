package cluster_test

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lifelinehq/lifeline/integration/faultproxy"
	"github.com/lifelinehq/lifeline/server"
)

// TestClusterAuthRelayed: the owner authenticates every resume, relayed or not, with
// what the client sent: a cookie checked by Authenticate arrives with every relayed
// request and every relayed WebSocket, with the client's address.
func TestClusterAuthRelayed(t *testing.T) {
	ns := startNATS(t)
	var calls, refused atomic.Int64
	tc := newTestClusterOpts(t, ns, echo, func(o *server.Options) {
		o.Authenticate = func(r *http.Request, _ string) (any, error) {
			calls.Add(1)
			if _, err := netip.ParseAddrPort(r.RemoteAddr); err != nil {
				refused.Add(1)
				return nil, fmt.Errorf("client address %q", r.RemoteAddr)
			}
			if c, err := r.Cookie("auth"); err != nil || c.Value != "yes" {
				refused.Add(1)
				return nil, fmt.Errorf("no auth cookie")
			}
			return "someone", nil
		}
	}, "a", "b", "c")
	fp, err := faultproxy.New(strings.TrimPrefix(tc.front.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer fp.Close()
	for _, tr := range []string{"websocket", "stream", "poll"} {
		t.Run(tr, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			relayed := tc.relayed()
			c := dialHeader(t, ctx, "http://"+fp.Addr(), http.Header{"Cookie": {"auth=yes"}}, tr)
			fp.CutAfter(5, 30*time.Millisecond, 200*time.Millisecond)
			defer fp.CutAfter(0, 0, 0)
			fp.CutAll()
			for i := 0; i < 3 || tc.relayed() == relayed; i++ {
				exchange(t, ctx, c, fmt.Sprintf("%s%d-", tr, i), 200)
			}
			if s := c.Stats(); s.Resets != 0 {
				t.Errorf("reset: %+v", s)
			}
		})
	}
	if refused.Load() != 0 {
		t.Errorf("Authenticate refused %d of %d calls", refused.Load(), calls.Load())
	}
}
