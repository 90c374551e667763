//go:build integration

package integration

import (
	"context"
	"encoding/json"
	"os/exec"
	"slices"
	"testing"
	"time"
)

// TestLabLifecycle: the browser client's page events in real Chromium, on the chat
// example (issue 10, points 5 and 7), through browser/lifecycle.mjs.
//   - close: when bob's page is closed, ann's page stops listing him within a second:
//     the client closed the session on pagehide (without it he stays for the 60 s
//     resume window).
//   - offline: when bob's browser goes offline (Playwright's setOffline; his WebSocket
//     or stream is left open, carrying nothing), his page says reconnecting within about
//     a second; the 3 messages he types meanwhile reach ann once each, in order, after
//     he comes back online.
func TestLabLifecycle(t *testing.T) {
	e := lab(t)
	for _, tr := range []string{"websocket", "stream", "poll"} {
		t.Run("close-"+tr, func(t *testing.T) {
			var r struct{ GoneMs int }
			runLifecycle(t, "http://"+startApp(t, e.chatBin)+"/", "close", tr, &r)
			t.Logf("bob (%s) left ann's member list %d ms after his page closed", tr, r.GoneMs)
			if r.GoneMs > 1000 {
				t.Errorf("ann listed bob (%s) for %d ms after his page closed, want under 1 s", tr, r.GoneMs)
			}
		})
		t.Run("offline-"+tr, func(t *testing.T) {
			var r struct {
				ReconnectingMs, BackMs int
				AnnLog                 []string
				Status                 string
			}
			runLifecycle(t, "http://"+startApp(t, e.chatBin)+"/", "offline", tr, &r)
			t.Logf("bob (%s): reconnecting %d ms after going offline, back %d ms after online; ann got %q", tr, r.ReconnectingMs, r.BackMs, r.AnnLog)
			if r.ReconnectingMs > 1500 {
				t.Errorf("bob's page (%s) said reconnecting %d ms after going offline, want about a second at most", tr, r.ReconnectingMs)
			}
			if want := []string{"offline 0", "offline 1", "offline 2"}; !slices.Equal(r.AnnLog, want) {
				t.Errorf("ann's page shows %q from bob (%s), want %q: each once, in order", r.AnnLog, tr, want)
			}
			if r.Status != tr {
				t.Errorf("bob's page ended on %q, want %s", r.Status, tr)
			}
		})
	}
}

// runLifecycle runs one scenario of browser/lifecycle.mjs and decodes its result.
func runLifecycle(t *testing.T, base, scenario, transport string, v any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "lifecycle.mjs", scenario, base, transport)
	cmd.Dir = "browser"
	out, err := cmd.Output()
	if err != nil {
		msg := err.Error()
		if ee, ok := err.(*exec.ExitError); ok {
			msg = string(ee.Stderr)
		}
		t.Fatalf("lifecycle.mjs %s %s: %s", scenario, transport, msg)
	}
	if err := json.Unmarshal(out, v); err != nil {
		t.Fatalf("lifecycle.mjs %s %s: %v: %q", scenario, transport, err, out)
	}
}
