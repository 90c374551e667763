package client

import (
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// wsGate sits in front of a server and refuses (404 without a close code, as a proxy
// would) or delays WebSocket handshakes.
type wsGate struct {
	h       http.Handler
	refuse  atomic.Bool
	delay   atomic.Int64 // ns
	refused atomic.Int32
}

func (g *wsGate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasSuffix(r.URL.Path, "/ws") {
		if g.refuse.Load() {
			g.refused.Add(1)
			http.NotFound(w, r)
			return
		}
		if d := time.Duration(g.delay.Load()); d > 0 {
			select {
			case <-time.After(d):
			case <-r.Context().Done():
				return
			}
		}
	}
	g.h.ServeHTTP(w, r)
}

func gated(t *testing.T) (*wsGate, string) {
	gate := &wsGate{}
	url := startServer(t, echo, fastServer(), func(h http.Handler) http.Handler {
		gate.h = h
		return gate
	})
	return gate, url
}

// TestFallback: with WebSocket refused, the race settles on the stream, which starts
// after the WebSocket's head start.
func TestFallback(t *testing.T) {
	gate, url := gated(t)
	gate.refuse.Store(true)
	c := dial(t, url, nil)
	if c.Transport() != "stream" {
		t.Errorf("Transport() = %q", c.Transport())
	}
	exchange(t, c, 0, 50)
	if s := c.Stats(); s.Fallbacks != 1 || s.Connects != 1 {
		t.Errorf("stats %+v", s)
	}

	// Only poll works: with the stream also off the list it wins the race.
	c = dial(t, url, &Options{Transports: []string{"websocket", "poll"}})
	if c.Transport() != "poll" {
		t.Errorf("Transport() = %q", c.Transport())
	}
	exchange(t, c, 0, 50)
}

// TestLateWebSocket: the WebSocket's hello arrives after an HTTP transport won the
// race; a second R moves the live session onto it, with no message lost during the
// move.
func TestLateWebSocket(t *testing.T) {
	for _, order := range [][]string{nil, {"websocket", "poll"}} {
		t.Run("order="+strings.Join(order, ","), func(t *testing.T) {
			gate, url := gated(t)
			gate.delay.Store(int64(400 * time.Millisecond))
			c := dial(t, url, &Options{Transports: order})
			want := "stream"
			if order != nil {
				want = order[1]
			}
			if c.Transport() != want {
				t.Fatalf("Transport() = %q, want %q to win the race", c.Transport(), want)
			}
			n := 0
			for deadline := time.Now().Add(5 * time.Second); c.Transport() != "websocket" && time.Now().Before(deadline); {
				exchange(t, c, n, 10) // keep traffic flowing through the move
				n += 10
			}
			exchange(t, c, n, 100)
			// Connects: the race's winner, the WebSocket, and the streams reopened after
			// recycling meanwhile (at once: not held back by the WebSocket under way).
			if s := c.Stats(); c.Transport() != "websocket" || s.Upgrades != 1 || s.Connects != 2+s.Resumes || s.Resets != 0 {
				t.Errorf("on %s, stats %+v", c.Transport(), s)
			}
		})
	}
}

// TestReprobe: WebSocket refused at first; once it works, a re-probe moves the
// session onto it. Failed probes back off.
func TestReprobe(t *testing.T) {
	for _, order := range [][]string{{"websocket", "stream"}, {"websocket", "poll"}} {
		t.Run(strings.Join(order, ","), func(t *testing.T) {
			gate, url := gated(t)
			gate.refuse.Store(true)
			o := fastClient(order...)
			o.ReprobeMin, o.ReprobeMax = 20*time.Millisecond, 40*time.Millisecond
			c := dial(t, url, o)
			if c.Transport() != order[1] {
				t.Fatalf("Transport() = %q", c.Transport())
			}
			waitFor(t, "two failed probes", func() bool { return gate.refused.Load() >= 3 })
			gate.refuse.Store(false)
			n := 0
			for deadline := time.Now().Add(5 * time.Second); c.Transport() != "websocket" && time.Now().Before(deadline); {
				exchange(t, c, n, 10) // keep traffic flowing through the move
				n += 10
			}
			exchange(t, c, n, 100)
			if s := c.Stats(); c.Transport() != "websocket" || s.Upgrades != 1 || s.Fallbacks != 1 {
				t.Errorf("on %s, stats %+v", c.Transport(), s)
			}
		})
	}
}

// TestRecycleWhileWebSocketHangs: the race's WebSocket hangs (as behind a proxy that
// swallows upgrades) while the stream that won is recycled again and again: each
// recycle reopens the stream at once. (It used to wait for the WebSocket attempt,
// stalling the session until WebSocketDeadline: here a minute, past the exchange's
// deadline.)
func TestRecycleWhileWebSocketHangs(t *testing.T) {
	opts := fastServer()
	opts.StreamBytes = 4 << 10
	gate := &wsGate{}
	gate.delay.Store(int64(time.Hour))
	url := startServer(t, echo, opts, func(h http.Handler) http.Handler { gate.h = h; return gate })
	c := dial(t, url, &Options{WebSocketDeadline: time.Minute})
	if c.Transport() != "stream" {
		t.Fatalf("Transport() = %q, want stream", c.Transport())
	}
	exchange(t, c, 0, 300)
	if s := c.Stats(); s.Resumes < 2 || s.Connects != 1+s.Resumes || s.Resets != 0 {
		t.Errorf("want the stream recycled several times: stats %+v", s)
	}
}
