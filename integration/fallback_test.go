package integration

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lifelinehq/lifeline/client"
	"github.com/lifelinehq/lifeline/integration/faultproxy"
	"github.com/lifelinehq/lifeline/internal/lltest"
	"github.com/lifelinehq/lifeline/server"
	"github.com/lifelinehq/lifeline/session"
)

// scenarios are hostile networks and the transport the race must settle on.
var scenarios = []struct {
	name       string
	ws, stream faultproxy.Policy
	want       string
}{
	{"direct", faultproxy.Pass, faultproxy.Pass, "websocket"},
	{"websocket-refused", faultproxy.Refuse, faultproxy.Pass, "stream"},
	{"websocket-hangs", faultproxy.Hang, faultproxy.Pass, "stream"},
	{"websocket-silent", faultproxy.Silent, faultproxy.Pass, "stream"},
	{"websocket-refused-stream-buffered", faultproxy.Refuse, faultproxy.Buffer, "poll"},
	{"websocket-hangs-stream-buffered", faultproxy.Hang, faultproxy.Buffer, "poll"},
	{"websocket-silent-stream-buffered", faultproxy.Silent, faultproxy.Buffer, "poll"},
}

// echo is the shared echo handler.
var echo = lltest.Echo

// echoServer serves an echo server on loopback, shut down when the test ends, and
// returns its URL.
func echoServer(tb testing.TB, opts *server.Options) string {
	srv := server.New(echo, opts)
	ts := httptest.NewServer(srv)
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		ts.Close()
	})
	return ts.URL
}

// behindProxy serves an echo server behind a fault proxy and returns the proxied
// mount URL.
func behindProxy(tb testing.TB, ws, stream faultproxy.Policy) (string, *faultproxy.Proxy) {
	url := echoServer(tb, &server.Options{HandshakeTimeout: time.Second})
	px, err := faultproxy.New(strings.TrimPrefix(url, "http://"))
	if err != nil {
		tb.Fatal(err)
	}
	px.SetWebSocket(ws)
	px.SetStream(stream)
	tb.Cleanup(px.Close) // before the server's shutdown: cleanups run last first
	return "http://" + px.Addr() + "/ll", px
}

// noKeepAlive makes every request a new connection, so the proxy sees each one.
func noKeepAlive() *http.Client {
	return &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
}

// TestFallbackScenarios: with the default options the race settles on the best
// transport that works through each hostile proxy, and the session carries messages.
func TestFallbackScenarios(t *testing.T) {
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			url, _ := behindProxy(t, sc.ws, sc.stream)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			c, err := client.Dial(ctx, url, &client.Options{HTTPClient: noKeepAlive()})
			if err != nil {
				t.Fatal(err)
			}
			defer c.CloseNow()
			if c.Transport() != sc.want {
				t.Fatalf("settled on %q, want %q", c.Transport(), sc.want)
			}
			for i := range 20 {
				msg := "m" + strconv.Itoa(i)
				if err := c.Write(ctx, session.Text, []byte(msg)); err != nil {
					t.Fatal(err)
				}
				if _, p, err := c.Read(ctx); err != nil || string(p) != msg {
					t.Fatalf("echo %d: %q, %v", i, p, err)
				}
			}
			if c.Transport() != sc.want {
				t.Fatalf("moved to %q during the exchange", c.Transport())
			}
		})
	}
}

// BenchmarkTimeToOpen reports how long Dial takes to a working, confirmed transport
// through each hostile proxy on loopback (ns/op), with the default race timing.
func BenchmarkTimeToOpen(b *testing.B) {
	for _, sc := range scenarios {
		b.Run(sc.name, func(b *testing.B) {
			url, _ := behindProxy(b, sc.ws, sc.stream)
			for range b.N {
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				c, err := client.Dial(ctx, url, &client.Options{HTTPClient: noKeepAlive()})
				if err != nil {
					b.Fatal(err)
				}
				if c.Transport() != sc.want {
					b.Fatalf("settled on %q, want %q", c.Transport(), sc.want)
				}
				b.StopTimer()
				c.CloseNow()
				cancel()
				b.StartTimer()
			}
		})
	}
}
