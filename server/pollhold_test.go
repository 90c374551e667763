package server_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lifelinehq/lifeline/client"
	"github.com/lifelinehq/lifeline/server"
	"github.com/lifelinehq/lifeline/session"
)

// TestPollHoldLearnsProxyTimeout puts a proxy that gives up on a response after
// 300 ms (a 504, as a load balancer's timeout does) in front of a server that holds
// polls for a 5 s heartbeat. The first held poll is cut; the server learns from the
// cut and holds the session's later polls shorter, so the quiet session stops failing
// a poll per gap (issue 10, point 5).
func TestPollHoldLearnsProxyTimeout(t *testing.T) {
	_, base := start(t, echo, &server.Options{Heartbeat: 5 * time.Second, PollMinHold: 100 * time.Millisecond})
	u, _ := url.Parse(base)
	var polls, timeouts atomic.Int64
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.Transport = &http.Transport{ResponseHeaderTimeout: 300 * time.Millisecond}
	rp.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
		timeouts.Add(1)
		w.WriteHeader(http.StatusGatewayTimeout)
	}
	px := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/poll") {
			polls.Add(1)
		}
		rp.ServeHTTP(w, r)
	}))
	defer px.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, px.URL, &client.Options{Transports: []string{"poll"},
		BackoffMin: 10 * time.Millisecond, BackoffMax: 50 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	// A quiet session: wait for 12 polls, each held until something answers it.
	for polls.Load() < 12 {
		select {
		case <-ctx.Done():
			t.Fatalf("%d polls, %d cut by the proxy", polls.Load(), timeouts.Load())
		case <-time.After(20 * time.Millisecond):
		}
	}
	if n := timeouts.Load(); n > 2 {
		t.Errorf("the proxy cut %d of %d polls: the server did not learn to hold them shorter", n, polls.Load())
	}
	if err := c.Write(ctx, session.Text, []byte("still here")); err != nil {
		t.Fatal(err)
	}
	if _, p, err := c.Read(ctx); err != nil || string(p) != "still here" {
		t.Fatalf("echo %q %v", p, err)
	}
	if s := c.Stats(); s.Resets != 0 {
		t.Errorf("stats %+v", s)
	}
}

// TestPollHoldWhileBusy: a held poll keeps one of the browser's six connections per
// host busy, so after a poll answer that carried something the server holds the next
// poll only 500 ms, doubling for each quiet answer up to the heartbeat (issue 10, point
// 8; docs/protocol.md §6). With a 20 s heartbeat: after an echo the next quiet polls
// are answered after about 0.5 s, 1 s, 2 s, never the full heartbeat. (The margins are
// wide: this checks the protocol's rule, not speed.)
func TestPollHoldWhileBusy(t *testing.T) {
	_, base := start(t, echo, &server.Options{Heartbeat: 20 * time.Second})
	u, _ := url.Parse(base)
	var mu sync.Mutex
	var quiet []time.Duration // how long each poll answered with a P alone was held
	rp := httputil.NewSingleHostReverseProxy(u)
	px := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/poll") {
			rp.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		t0 := time.Now()
		rp.ServeHTTP(rec, r)
		if rec.Body.String() == "data:P\n\n" {
			mu.Lock()
			quiet = append(quiet, time.Since(t0))
			mu.Unlock()
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes())
	}))
	defer px.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, px.URL, &client.Options{Transports: []string{"poll"}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	if err := c.Write(ctx, session.Text, []byte("busy")); err != nil {
		t.Fatal(err)
	}
	if _, p, err := c.Read(ctx); err != nil || string(p) != "busy" {
		t.Fatalf("echo %q %v", p, err)
	}
	mu.Lock()
	quiet = nil // the quiet polls from the echo on
	mu.Unlock()
	// Three quiet answers: 0.5 + 1 + 2 s after the echo (and its ack), were the rule
	// kept; a 20 s heartbeat would give none.
	time.Sleep(6 * time.Second)
	mu.Lock()
	got := slices.Clone(quiet)
	mu.Unlock()
	if len(got) < 3 {
		t.Fatalf("quiet polls held %v in the 6 s after a busy one: want at least 3 (0.5 s, 1 s, 2 s)", got)
	}
	for i, want := range []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second} {
		if got[i] < want-100*time.Millisecond || got[i] > want+time.Second {
			t.Errorf("quiet poll %d after a busy one held %v, want about %v (all: %v)", i+1, got[i], want, got)
		}
	}
}
