package server_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
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
