//go:build integration

package integration

import (
	"context"
	"encoding/json"
	"os/exec"
	"slices"
	"strings"
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
	runScript(t, 90*time.Second, v, "lifecycle.mjs", scenario, base, transport)
}

// runScript runs node on a script of browser/ (one that drives a browser of its own
// and prints its result as one JSON value) with args, within timeout, and decodes
// what it printed into v. The script's stderr is the failure.
func runScript(t *testing.T, timeout time.Duration, v any, script string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", append([]string{script}, args...)...)
	cmd.Dir = "browser"
	out, err := cmd.Output()
	if err != nil {
		msg := err.Error()
		if ee, ok := err.(*exec.ExitError); ok {
			msg = string(ee.Stderr)
		}
		t.Fatalf("%s %s: %s", script, strings.Join(args, " "), msg)
	}
	if err := json.Unmarshal(out, v); err != nil {
		t.Fatalf("%s %s: %v: %q", script, strings.Join(args, " "), err, out)
	}
}
