package server_test

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lifelinehq/lifeline/closecode"
	"github.com/lifelinehq/lifeline/server"
)

// logWatch is a slog.Handler that closes ch at the first record whose message begins
// with prefix.
type logWatch struct {
	prefix string
	once   sync.Once
	ch     chan struct{}
}

func newLogWatch(prefix string) *logWatch { return &logWatch{prefix: prefix, ch: make(chan struct{})} }

func (l *logWatch) Enabled(context.Context, slog.Level) bool { return true }
func (l *logWatch) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logWatch) WithGroup(string) slog.Handler            { return l }
func (l *logWatch) Handle(_ context.Context, r slog.Record) error {
	if strings.HasPrefix(r.Message, l.prefix) {
		l.once.Do(func() { close(l.ch) })
	}
	return nil
}

// wantShutdownRefusal checks a 503 with C4503 and Retry-After.
func wantShutdownRefusal(t *testing.T, res *http.Response) {
	t.Helper()
	if res.Header.Get("Retry-After") == "" {
		t.Fatal("503 without Retry-After")
	}
	wantStatus(t, res, http.StatusServiceUnavailable, closecode.Shutdown)
}

// TestShutdownDrainTellsClientsBetweenRequests: polling clients that were between
// polls when Shutdown ended their sessions had no connection to be told on, and
// Shutdown returned at once: a process exiting then left them writing into a dead
// session. Shutdown now drains: it answers every request naming a session with 503,
// C4503 and Retry-After, and returns once each such client has been told.
func TestShutdownDrainTellsClientsBetweenRequests(t *testing.T) {
	draining := newLogWatch("lifeline: shutdown draining")
	srv, base := start(t, echo, &server.Options{Logger: slog.New(draining), ShutdownDrain: time.Hour})
	a, b := pollHello(t, base), pollHello(t, base)
	for _, h := range [][]string{creds(a, a.Token, 0, 0), creds(b, b.Token, 0, 0)} {
		if res := req(t, "POST", base+"/send", body("A0"), h...); res.StatusCode != 200 {
			t.Fatalf("confirming send: %d", res.StatusCode)
		}
	}
	// An unconfirmed session is not waited for: its client may never come back.
	pollHello(t, base)

	done := make(chan error, 1)
	go func() { done <- srv.Shutdown(context.Background()) }()
	select {
	case err := <-done:
		t.Fatalf("Shutdown returned (%v) with two polling clients untold: a process exiting now leaves them in the dark", err)
	case <-draining.ch:
	}
	// One client polls, the other sends: each learns the server is going.
	wantShutdownRefusal(t, req(t, "GET", base+"/poll", "", creds(a, a.Token, 0, 0)...))
	select {
	case err := <-done:
		t.Fatalf("Shutdown returned (%v) with one polling client untold", err)
	default:
	}
	wantShutdownRefusal(t, req(t, "POST", base+"/send", body("S1", "Mlate"), creds(b, b.Token, 0, 0)...))
	// Both told: Shutdown returns, long before its hour.
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	// Every later request naming a session (even a wrong one) is answered so too, and
	// new sessions are refused.
	wantShutdownRefusal(t, req(t, "GET", base+"/stream", "", creds(a, "wrong", 0, 1)...))
	wantShutdownRefusal(t, req(t, "GET", base+"/poll", ""))
}

// TestShutdownDrainPeriod: a client that never comes back holds Shutdown for the
// drain period only; with no drain, Shutdown does not wait for it.
func TestShutdownDrainPeriod(t *testing.T) {
	for _, drain := range []time.Duration{-1, 50 * time.Millisecond} {
		srv, base := start(t, echo, &server.Options{Logger: slog.New(slog.DiscardHandler), ShutdownDrain: drain})
		h := pollHello(t, base)
		req(t, "POST", base+"/send", body("A0"), creds(h, h.Token, 0, 0)...)
		if err := srv.Shutdown(context.Background()); err != nil {
			t.Fatalf("drain %v: Shutdown: %v", drain, err)
		}
		wantShutdownRefusal(t, req(t, "GET", base+"/poll", "", creds(h, h.Token, 0, 0)...))
	}
}
