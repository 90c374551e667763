package server_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lifelinehq/lifeline/closecode"
	"github.com/lifelinehq/lifeline/server"
	"github.com/lifelinehq/lifeline/session"
	"github.com/lifelinehq/lifeline/transport"
)

func TestShutdownTellsEveryTransport(t *testing.T) {
	srv, base := start(t, echo, nil)
	c := wsDial(t, base, transport.ResumeReq{}, nil)
	wsHello(t, c)
	wsSend(t, c, "A0")

	res := req(t, "GET", base+"/stream", "")
	rd := transport.NewReader(res.Body, 1<<20)
	f, _ := rd.Next()
	h, _ := transport.DecodeHello(f.Data)
	req(t, "POST", base+"/send", body("A0"), creds(h, h.Token, 0, 0)...)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- srv.Shutdown(ctx) }()

	if code := wsCloseCode(t, c); code != closecode.Shutdown {
		t.Fatalf("websocket closed with %d, want 4503", code)
	}
	for {
		f, err := rd.Next()
		if err != nil {
			t.Fatalf("stream ended without C4503: %v", err)
		}
		if f.Type == transport.FrameClose {
			if f.Num != uint64(closecode.Shutdown) {
				t.Fatalf("stream C%d", f.Num)
			}
			break
		}
	}
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	res = req(t, "GET", base+"/poll", "")
	wantStatus(t, res, http.StatusServiceUnavailable, closecode.Shutdown)
	if res.Header.Get("Retry-After") == "" {
		t.Fatal("503 without Retry-After")
	}
	if st := srv.Stats(); st.Sessions != 0 {
		t.Fatalf("sessions left after shutdown: %+v", st)
	}
}

// TestUnconfirmedSessionNeverReachesHandler: a session whose hello the client never
// confirms is dropped after the handshake timeout, unseen by the handler.
func TestUnconfirmedSessionNeverReachesHandler(t *testing.T) {
	started := make(chan string, 10)
	h := server.HandlerFunc(func(ctx context.Context, s *session.Session) { started <- s.ID() })
	srv, base := start(t, h, &server.Options{HandshakeTimeout: 100 * time.Millisecond})
	unconfirmed := pollHello(t, base)
	confirmed := pollHello(t, base)
	req(t, "POST", base+"/send", body("A0"), creds(confirmed, confirmed.Token, 0, 0)...)
	if id := <-started; id != confirmed.SessionID {
		t.Fatalf("handler started for %s", id)
	}
	deadline := time.Now().Add(5 * time.Second)
	for srv.Stats().Sessions > 1 && time.Now().Before(deadline) { // the confirmed one waits for its client
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case id := <-started:
		t.Fatalf("handler started for unconfirmed %s", id)
	default:
	}
	res := req(t, "GET", base+"/poll", "", creds(unconfirmed, unconfirmed.Token, 0, 0)...)
	wantStatus(t, res, http.StatusGone, closecode.Expired)
}

// TestResumeWindow: a session with no connection for the resume window ends; a resume
// then gets 4410, distinct from an unknown session's 4404.
func TestResumeWindow(t *testing.T) {
	ended := make(chan error, 1)
	h := server.HandlerFunc(func(ctx context.Context, s *session.Session) {
		_, _, err := s.Read(ctx)
		ended <- err
	})
	_, base := start(t, h, &server.Options{ResumeWindow: 150 * time.Millisecond})
	hl := pollHello(t, base)
	req(t, "POST", base+"/send", body("A0"), creds(hl, hl.Token, 0, 0)...)
	var ce *session.CloseError
	if err := <-ended; !asClose(err, &ce) || ce.Code != closecode.Expired {
		t.Fatalf("handler's Read: %v, want 4410", err)
	}
	wantStatus(t, req(t, "GET", base+"/stream", "", creds(hl, hl.Token, 0, 1)...), http.StatusGone, closecode.Expired)
	wantStatus(t, req(t, "GET", base+"/stream", "", creds(hl, "wrong-token", 0, 1)...), http.StatusNotFound, closecode.Unknown)
}

func asClose(err error, ce **session.CloseError) bool {
	c, ok := err.(*session.CloseError)
	*ce = c
	return ok
}

// TestBroadcastSlowSession: a session that stops acking overflows its queue and is
// closed with 4507; the session that keeps up gets every message, in order. Acks are
// asynchronous, so the fast client makes sure each ack has been applied before the
// next broadcast: it sends a message after the ack and waits for the handler's echo
// (frames on one connection are processed in order).
func TestBroadcastSlowSession(t *testing.T) {
	var srv *server.Server
	srv, base := start(t, server.HandlerFunc(func(ctx context.Context, s *session.Session) {
		srv.Join("room", s)
		for {
			typ, p, err := s.Read(ctx)
			if err != nil || s.Write(ctx, typ, p) != nil {
				return
			}
		}
	}), &server.Options{MaxQueuedBytes: 1000})
	fast := wsDial(t, base, transport.ResumeReq{}, nil)
	wsHello(t, fast)
	wsSend(t, fast, "A0", "S1")
	slow := wsDial(t, base, transport.ResumeReq{}, nil)
	wsHello(t, slow)
	wsSend(t, slow, "A0")
	for srv.Broadcast("room", session.Text, []byte("probe")) < 2 {
		time.Sleep(5 * time.Millisecond) // until both handlers have joined
	}
	payload := strings.Repeat("x", 90)
	fastGot := 0
	// next returns the next text message on fast, acking everything received so far.
	next := func() string {
		for {
			if f := wsNext(t, fast); f.Type == transport.FrameText {
				fastGot++
				return string(f.Data)
			}
		}
	}
	for i := 1; i <= 30; i++ {
		srv.Broadcast("room", session.Text, []byte(payload+strconv.Itoa(i)))
		for {
			if got := next(); got != "probe" {
				if want := payload + strconv.Itoa(i); got != want {
					t.Fatalf("fast got %q, want %q", got, want)
				}
				break
			}
		}
		sync := "sync" + strconv.Itoa(i)
		wsSend(t, fast, "A"+strconv.Itoa(fastGot), "M"+sync)
		if got := next(); got != sync {
			t.Fatalf("fast got %q, want the echo %q", got, sync)
		}
		wsSend(t, fast, "A"+strconv.Itoa(fastGot))
	}
	if code := wsCloseCode(t, slow); code != closecode.Overflow {
		t.Fatalf("slow session closed with %d, want 4507", code)
	}
}

// TestMiddlewareAndPlainMux: the server works as chi middleware and on a plain mux.
func TestMiddlewareAndPlainMux(t *testing.T) {
	srv := server.New(echo, nil)
	defer srv.Shutdown(context.Background())
	other := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("app")) })
	mw := httptest.NewServer(srv.Middleware("/rt/")(other))
	defer mw.Close()
	mux := http.NewServeMux()
	mux.Handle("/plain/", srv)
	plain := httptest.NewServer(mux)
	defer plain.Close()
	for _, base := range []string{mw.URL + "/rt", plain.URL + "/plain"} {
		h := pollHello(t, base)
		if h.SessionID == "" {
			t.Fatal("no session")
		}
	}
	res := req(t, "GET", mw.URL+"/elsewhere", "")
	if res.StatusCode != 200 {
		t.Fatalf("middleware passed on with %d", res.StatusCode)
	}
}

// TestAuthenticateOnCreateAndResume: the authenticator runs when a session is created
// and on every resume (a new connection), not on sends or on later polls of a run.
func TestAuthenticateOnCreateAndResume(t *testing.T) {
	var calls atomic.Int32
	_, base := start(t, echo, &server.Options{
		Heartbeat: 50 * time.Millisecond, // held polls return quickly
		Authenticate: func(r *http.Request, creds string) (any, error) {
			calls.Add(1)
			return creds, nil
		},
	})
	h := pollHello(t, base)
	auth := func(c ...string) []string { return append(c, transport.HeaderAuth, "me") }
	for _, step := range []struct {
		method, path string
		conn         int
		want         int32
	}{
		{"POST", "/send", 0, 1}, // confirms: not a resume
		{"GET", "/poll", 0, 1},  // the run of polls goes on
		{"GET", "/poll", 0, 1},
		{"GET", "/poll", 1, 2}, // a new run: a resume
		{"GET", "/poll", 1, 2},
		{"GET", "/stream", 2, 3}, // another transport: a resume
	} {
		res := req(t, step.method, base+step.path, body("A0"), auth(creds(h, h.Token, 0, step.conn)...)...)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("%s %s conn %d: status %d", step.method, step.path, step.conn, res.StatusCode)
		}
		if step.path == "/stream" {
			res.Body.Close()
		} else {
			frames(t, res.Body)
		}
		if got := calls.Load(); got != step.want {
			t.Fatalf("after %s %s conn %d: Authenticate ran %d times, want %d", step.method, step.path, step.conn, got, step.want)
		}
	}
}
