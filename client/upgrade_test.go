package client

import (
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lifelinehq/lifeline/closecode"
	"github.com/lifelinehq/lifeline/session"
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
			// Drops: the move is no drop, nor is a recycle.
			s := settledStats(c, func(s Stats) bool { return s.Connects == 2+s.Resumes })
			if c.Transport() != "websocket" || s.Upgrades != 1 || s.Connects != 2+s.Resumes || s.Resets != 0 || s.Drops != 0 {
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
			if s := c.Stats(); c.Transport() != "websocket" || s.Upgrades != 1 || s.Fallbacks != 1 || s.Drops != 0 {
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
	if s := settledStats(c, func(s Stats) bool { return s.Connects == 1+s.Resumes }); s.Resumes < 2 || s.Connects != 1+s.Resumes || s.Resets != 0 {
		t.Errorf("want the stream recycled several times: stats %+v", s)
	}
}

// settledStats returns the Conn's counters once ok holds for them, or after 2 s. They
// move one at a time (a resume counts its connect, then itself), so a reading taken
// while a stream is reopened can be between the two.
func settledStats(c *Conn, ok func(Stats) bool) Stats {
	s := c.Stats()
	for deadline := time.Now().Add(2 * time.Second); !ok(s) && time.Now().Before(deadline); s = c.Stats() {
		time.Sleep(5 * time.Millisecond)
	}
	return s
}

// TestLostRaceRetriesSoon: a WebSocket that worked but lost the session to a newer
// connection of ours (4409: a stream recycled while its R was under way) is tried again
// after 50 ms, doubling per loss in a row, at most ReprobeMin; a probe that fails
// otherwise doubles the delay, as always. (Without this a lost WebSocket waited
// ReprobeMin, 10 s: TestLateWebSocket failed about once in 80 runs.)
func TestLostRaceRetriesSoon(t *testing.T) {
	c := &Conn{log: slog.New(slog.DiscardHandler)}
	c.opts.ReprobeMin, c.opts.ReprobeMax = 10*time.Second, time.Minute
	s := &supervisor{c: c, probeDelay: c.opts.ReprobeMin}
	offer := func(err error) time.Duration {
		s.inflight++
		if s.take(&candidate{probe: true, err: err}) {
			t.Fatal("a failed candidate took the session")
		}
		return s.probeDelay
	}
	superseded := &session.CloseError{Code: closecode.Superseded, Reason: "superseded", Remote: true}
	for i, want := range []time.Duration{50 * time.Millisecond, 100 * time.Millisecond, 200 * time.Millisecond} {
		if got := offer(superseded); got != want {
			t.Fatalf("loss %d: next probe in %v, want %v", i+1, got, want)
		}
	}
	refused := errors.New("lifeline: websocket refused")
	if got := offer(refused); got != 400*time.Millisecond {
		t.Fatalf("after a refusal: next probe in %v, want 400ms", got)
	}
	for range 10 {
		offer(superseded)
	}
	if got := s.probeDelay; got != c.opts.ReprobeMin {
		t.Fatalf("after many losses: next probe in %v, want at most ReprobeMin", got)
	}
	for _, want := range []time.Duration{20 * time.Second, 40 * time.Second, time.Minute, time.Minute} {
		if got := offer(refused); got != want {
			t.Fatalf("after a refusal: next probe in %v, want %v", got, want)
		}
	}
	if s.inflight != 0 {
		t.Fatalf("inflight %d after every candidate was heard", s.inflight)
	}
}
