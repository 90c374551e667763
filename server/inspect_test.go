package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lifelinehq/lifeline/server"
	"github.com/lifelinehq/lifeline/session"
	"github.com/lifelinehq/lifeline/transport"
)

// TestInspectRefused: without Inspect the inspector does not exist (404); when Inspect
// says no, the page, its files and its Lifeline endpoints are 403.
func TestInspectRefused(t *testing.T) {
	_, base := start(t, echo, nil)
	for _, p := range []string{"/inspect", "/inspect/inspect.js", "/inspect/ll/poll"} {
		if res := req(t, "GET", base+p, ""); res.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s with no Inspect: %s, want 404", p, res.Status)
		}
	}
	_, base = start(t, echo, &server.Options{Inspect: func(r *http.Request) bool { return r.Header.Get("X-Admin") == "yes" }})
	for _, p := range []string{"/inspect", "/inspect/inspect.js", "/inspect/inspect.css", "/inspect/ll/poll", "/inspect/ll/stream", "/inspect/ll/ws"} {
		if res := req(t, "GET", base+p, ""); res.StatusCode != http.StatusForbidden {
			t.Errorf("GET %s refused by Inspect: %s, want 403", p, res.Status)
		}
	}
	if res := req(t, "POST", base+"/inspect/ll/send", "S1\nMx\n"); res.StatusCode != http.StatusForbidden {
		t.Errorf("POST /inspect/ll/send refused by Inspect: %s, want 403", res.Status)
	}
	res := req(t, "GET", base+"/inspect", "", "X-Admin", "yes")
	page, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") || !strings.Contains(string(page), "lifeline.min.js") {
		t.Errorf("GET /inspect allowed: %s %q, want the page that loads lifeline.min.js", res.Status, res.Header.Get("Content-Type"))
	}
	if res := req(t, "POST", base+"/inspect", "", "X-Admin", "yes"); res.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /inspect: %s, want 405", res.Status)
	}
}

// TestInspectSnapshot: the inspector's session receives snapshots of the server's
// sessions, which do not include the inspector's own.
func TestInspectSnapshot(t *testing.T) {
	var srv *server.Server
	srv, base := start(t, server.HandlerFunc(func(ctx context.Context, s *session.Session) {
		srv.Join("room", s)
		echo(ctx, s)
	}), &server.Options{Inspect: func(*http.Request) bool { return true }})
	user := wsDial(t, base, transport.ResumeReq{}, nil)
	h := wsHello(t, user)
	wsSend(t, user, "A0")
	for srv.Broadcast("room", session.Text, []byte("x")) < 1 {
		time.Sleep(5 * time.Millisecond) // until the handler has joined
	}

	viewer := wsDial(t, base+"/inspect/ll", transport.ResumeReq{}, nil)
	wsHello(t, viewer)
	wsSend(t, viewer, "A0")
	var snap struct {
		Stats    server.Stats
		Viewers  int
		Sessions []struct {
			ID, Transport string
			Groups        []string
		}
		Groups []struct {
			Name    string
			Count   int
			Members []string
		}
	}
	f := wsNext(t, viewer)
	for f.Type == transport.FrameSeq {
		f = wsNext(t, viewer)
	}
	if f.Type != transport.FrameText {
		t.Fatalf("viewer got frame %c", f.Type)
	}
	if err := json.Unmarshal(f.Data, &snap); err != nil {
		t.Fatalf("snapshot %q: %v", f.Data, err)
	}
	if snap.Stats.Sessions != 1 || snap.Stats.WebSocket != 1 || snap.Viewers != 1 || len(snap.Sessions) != 1 {
		t.Fatalf("snapshot %+v, want the one user session and one viewer", snap)
	}
	if s := snap.Sessions[0]; s.ID != h.SessionID || s.Transport != "websocket" || len(s.Groups) != 1 || s.Groups[0] != "room" {
		t.Errorf("session row %+v, want %s on websocket in room", s, h.SessionID)
	}
	if len(snap.Groups) != 1 || snap.Groups[0].Name != "room" || snap.Groups[0].Count != 1 || snap.Groups[0].Members[0] != h.SessionID {
		t.Errorf("groups %+v, want room with the user", snap.Groups)
	}
}
