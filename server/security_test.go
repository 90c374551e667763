package server_test

// Crafted and hostile inputs (shared/FIELD-NOTES.md, "Security lessons"): each gets its
// exact status and close code (docs/protocol.md §7), and the server serves a normal
// client afterwards.

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/lifelinehq/lifeline/closecode"
	"github.com/lifelinehq/lifeline/server"
	"github.com/lifelinehq/lifeline/session"
	"github.com/lifelinehq/lifeline/transport"
)

func TestSecurityOriginRefused(t *testing.T) {
	srv, base := start(t, echo, &server.Options{OriginPatterns: []string{"*.good.example"}})
	h := pollHello(t, base)
	origins := []string{
		"http://evil.example",
		"null",
		"http://good.example",                   // the pattern wants a subdomain
		"https://app.good.example.evil.example", // suffix of another host
		"https://evilgood.example",
		"https://app.good.example:8443", // another port is another origin
		"file://",
	}
	for _, origin := range origins {
		t.Run(origin, func(t *testing.T) {
			created := srv.Stats().Created
			o := []string{"Origin", origin}
			_, res, err := wsDialRaw(t, base, http.Header{"Origin": {origin}})
			if err == nil || res == nil {
				t.Fatalf("ws upgrade with Origin %q: err %v, response %v", origin, err, res)
			}
			wantNoCORS(t, res)
			wantStatus(t, res, 403, closecode.Origin)
			for _, r := range []*http.Response{
				req(t, "GET", base+"/stream", "", o...),
				req(t, "GET", base+"/poll", "", o...),
				req(t, "GET", base+"/poll", "", append(o, creds(h, h.Token, 0, 0)...)...),
				req(t, "POST", base+"/send", body("S1", "Mhijacked"), append(o, creds(h, h.Token, 0, 0)...)...),
				req(t, "OPTIONS", base+"/send", "", append(o, "Access-Control-Request-Method", "POST",
					"Access-Control-Request-Headers", "lifeline-session, lifeline-token")...),
				req(t, "OPTIONS", base+"/ws", "", o...),
			} {
				wantNoCORS(t, r)
				wantStatus(t, r, 403, closecode.Origin)
			}
			if st := srv.Stats(); st.Created != created || st.MessagesIn != 0 {
				t.Fatalf("a refused origin touched sessions: %+v", st)
			}
		})
	}
	stillServes(t, base)
}

func TestSecurityOriginAllowed(t *testing.T) {
	_, base := start(t, echo, &server.Options{OriginPatterns: []string{"*.good.example"}})
	u, _ := url.Parse(base)
	for _, origin := range []string{"https://app.good.example", "HTTPS://App.Good.Example", "http://" + u.Host} {
		t.Run(origin, func(t *testing.T) {
			c, res, err := wsDialRaw(t, base, http.Header{"Origin": {origin}})
			if err != nil {
				t.Fatalf("ws with Origin %q: %v", origin, err)
			}
			if origin != "http://"+u.Host {
				wantCORS(t, res, origin)
			}
			wsSend(t, c, string(transport.AppendResume(nil, &transport.ResumeReq{V: 1})))
			wsHello(t, c)
			wsSend(t, c, "A0", "S1", "Mfrom "+origin)
			wsExpect(t, c, 1, "from "+origin)

			res = req(t, "GET", base+"/poll", "", "Origin", origin)
			wantCORS(t, res, origin)
			if fs := frames(t, res.Body); res.StatusCode != 200 || len(fs) == 0 || fs[0].Type != transport.FrameHello {
				t.Fatalf("poll with Origin %q: %d %+v", origin, res.StatusCode, fs)
			}

			res = req(t, "OPTIONS", base+"/send", "", "Origin", origin, "Access-Control-Request-Method", "POST",
				"Access-Control-Request-Headers", "lifeline-session, lifeline-token")
			if res.StatusCode != http.StatusNoContent {
				t.Fatalf("preflight: status %d, want 204", res.StatusCode)
			}
			wantCORS(t, res, origin)
			if v := res.Header.Get("Access-Control-Allow-Headers"); !strings.Contains(v, transport.HeaderToken) ||
				!strings.Contains(v, transport.HeaderSession) {
				t.Fatalf("preflight Access-Control-Allow-Headers %q", v)
			}
			if v := res.Header.Get("Access-Control-Allow-Methods"); !strings.Contains(v, "POST") {
				t.Fatalf("preflight Access-Control-Allow-Methods %q", v)
			}
		})
	}
	stillServes(t, base)
}

func TestSecurityTokenIsSecret(t *testing.T) {
	_, base := start(t, echo, nil)
	h1, h2 := pollHello(t, base), pollHello(t, base)
	for _, h := range []*transport.Hello{h1, h2} {
		raw, err := base64.RawURLEncoding.DecodeString(h.Token)
		if len(h.Token) < 22 || err != nil || len(raw) < 16 {
			t.Fatalf("token %q: %d base64url chars (%v), want at least 22 (128 bits)", h.Token, len(h.Token), err)
		}
		if strings.Contains(h.SessionID, h.Token) {
			t.Fatalf("session id %q carries the token", h.SessionID)
		}
	}
	if h1.Token == h2.Token || h1.SessionID == h2.SessionID {
		t.Fatalf("two sessions share a token or id: %+v %+v", h1, h2)
	}
	// Credentials in the URL are never read: this poll creates a new session.
	q := url.Values{"sid": {h1.SessionID}, "token": {h1.Token}, transport.HeaderSession: {h1.SessionID},
		transport.HeaderToken: {h1.Token}}
	res := req(t, "GET", base+"/poll?"+q.Encode(), "")
	fs := frames(t, res.Body)
	if res.StatusCode != 200 || len(fs) == 0 || fs[0].Type != transport.FrameHello {
		t.Fatalf("poll with query: %d %+v", res.StatusCode, fs)
	}
	if h, _ := transport.DecodeHello(fs[0].Data); h == nil || h.SessionID == h1.SessionID {
		t.Fatalf("credentials in the URL resumed session %s", h1.SessionID)
	}
	stillServes(t, base)
}

// TestSecurityWrongToken: a valid session id with a wrong token gets exactly the
// answer an unknown id gets, on every transport, and does not disturb the session.
func TestSecurityWrongToken(t *testing.T) {
	_, base := start(t, echo, nil)
	h := pollHello(t, base)
	unknown := *h
	unknown.SessionID = "7f0c2a4e-3f5a-4d6e-9b1f-2a3c4d5e6f70"
	wrong := []struct {
		name  string
		h     *transport.Hello
		token string
	}{
		{"unknown id", &unknown, h.Token},
		{"wrong token", h, "AAAAAAAAAAAAAAAAAAAAAA"},
		{"token prefix", h, h.Token[:len(h.Token)-1]},
		{"token plus a byte", h, h.Token + "A"},
		{"empty token", h, ""},
		{"token of another session", h, pollHello(t, base).Token},
	}
	var first string
	for _, w := range wrong {
		t.Run(w.name, func(t *testing.T) {
			for _, ep := range []struct{ method, path string }{{"GET", "/poll"}, {"GET", "/stream"}, {"POST", "/send"}} {
				res := req(t, ep.method, base+ep.path, body("S1", "Mforged"), creds(w.h, w.token, 0, 1)...)
				b, err := io.ReadAll(res.Body)
				if err != nil {
					t.Fatal(err)
				}
				if w.token == "" && ep.path == "/send" {
					wantStatusBody(t, res, b, 400, closecode.Protocol)
					continue
				}
				if first == "" {
					first = string(b)
				}
				if string(b) != first {
					t.Fatalf("%s %s: body %q differs from an unknown id's %q", ep.method, ep.path, b, first)
				}
				wantStatusBody(t, res, b, 404, closecode.Unknown)
			}
			if w.token == "" {
				return // an R frame needs both or neither: covered by the first-frame tests
			}
			c := wsDial(t, base, wsResume(w.h, w.token, 0, 1, ""), nil)
			wantWSClose(t, c, closecode.Unknown)
		})
	}
	// The forgeries neither delivered anything nor took the session.
	res := req(t, "POST", base+"/send", body("S1", "Mgenuine"), creds(h, h.Token, 0, 0)...)
	if fs := frames(t, res.Body); res.StatusCode != 200 || len(fs) != 1 || fs[0].Num != 1 {
		t.Fatalf("genuine send: %d %+v", res.StatusCode, fs)
	}
	if got := pollTexts(t, base, h, h.Token, 0, 0, 1); len(got) != 1 || got[0] != "genuine" {
		t.Fatalf("genuine poll: %q", got)
	}
	stillServes(t, base)
}

func TestSecurityHugeBody(t *testing.T) {
	const total = 100 << 20
	_, base := start(t, echo, &server.Options{MaxBodyBytes: 64 << 10, MaxMessageBytes: 1024})
	for _, tc := range []struct {
		name string
		body *endless
	}{
		// Comment lines are not frames: only the body limit stops them.
		{"comment lines", &endless{line: []byte(":padding padding padding\n")}},
		// Empty lines between events, likewise.
		{"blank lines", &endless{prefix: []byte("data:S1\n\n"), line: []byte("\n")}},
		// One line that never ends: the frame limit stops it.
		{"endless line", &endless{prefix: []byte("data:S1\n\ndata:M"), line: []byte("xxxxxxxxxxxxxxxx")}},
		// One frame of endless continuation lines.
		{"endless frame", &endless{prefix: []byte("data:S1\n\ndata:M"), line: []byte("x\ndata:")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := pollHello(t, base)
			tc.body.total = total
			res, err := do(ctxT(t), "POST", base+"/send", tc.body, creds(h, h.Token, 0, 0)...)
			if err != nil {
				t.Fatalf("send of %d bytes: %v (the server must answer 413, consumed %d)", total, err, tc.body.consumed())
			}
			defer res.Body.Close()
			wantStatus(t, res, 413, closecode.TooLarge)
			if n := tc.body.consumed(); n > total/4 {
				t.Fatalf("%d bytes of the body were consumed, limit %d", n, 64<<10)
			}
		})
	}
	stillServes(t, base)
}

func TestSecurityBatchAndMessageLimits(t *testing.T) {
	_, base := start(t, echo, &server.Options{MaxBatchFrames: 5, MaxMessageBytes: 1024, MaxBodyBytes: 1 << 20})
	bin := func(n int) string { return "B" + base64.StdEncoding.EncodeToString(make([]byte, n)) }
	for _, tc := range []struct {
		name   string
		frames []string
		status int
	}{
		{"six frames", []string{"S1", "Ma", "Mb", "Mc", "Md", "Me"}, 413},
		{"six pings", []string{"P", "P", "P", "P", "P", "P"}, 413},
		{"many acks", strings.Split(strings.Repeat("A0,", 1000), ",")[:1000], 413},
		{"five frames", []string{"S1", "Ma", "Mb", "Mc", "Md"}, 200},
		{"text at the limit", []string{"S1", "M" + strings.Repeat("x", 1024)}, 200},
		{"text one over", []string{"S1", "M" + strings.Repeat("x", 1025)}, 413},
		{"text far over", []string{"S1", "M" + strings.Repeat("x", 5000)}, 413},
		{"binary at the limit", []string{"S1", bin(1024)}, 200},
		{"binary one over", []string{"S1", bin(1025)}, 413},
		{"binary far over", []string{"S1", bin(5000)}, 413},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := pollHello(t, base)
			res := req(t, "POST", base+"/send", body(tc.frames...), creds(h, h.Token, 0, 0)...)
			if tc.status == 200 {
				if res.StatusCode != 200 {
					t.Fatalf("status %d, want 200", res.StatusCode)
				}
				return
			}
			wantStatus(t, res, tc.status, closecode.TooLarge)
		})
	}
	stillServes(t, base)
}

func TestSecurityMalformedSend(t *testing.T) {
	_, base := start(t, echo, nil)
	hello := string(transport.AppendHello(nil, &transport.Hello{V: 1, SessionID: "x"}))
	for _, tc := range []struct {
		name string
		body string
	}{
		{"sequence number of 23 digits", body("S99999999999999999999999", "Mx")},
		{"ack overflowing 64 bits", body("A18446744073709551616")},
		{"sequence overflowing 64 bits", body("S18446744073709551616", "Mx")},
		{"sequence zero", body("S0", "Mx")},
		{"ack with sign", body("A-1")},
		{"ack with leading zero", body("A01")},
		{"data without S", body("Mno number")},
		{"binary without S", body("BAAAA")},
		{"sequence gap", body("S5", "Mgap")},
		{"largest sequence number", body("S18446744073709551615", "Mx")},
		{"ack of a message never sent", body("A5")},
		{"largest ack", body("A18446744073709551615")},
		{"hello in a send", body(hello)},
		{"resume in a send", body(`R{"v":1}`)},
		{"malformed base64", body("S1", "B!!!!")},
		{"unpadded base64", body("S1", "BAA")},
		{"invalid UTF-8", body("S1", "M\xff\xfe")},
		{"unknown frame type", body("Xnothing")},
		{"empty frame", "data:\n\n"},
		{"ping with data", body("Pdata")},
		{"close code out of range", body("C9999 x")},
		{"body ending inside an event", "data:S1\n\ndata:Mcut"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := pollHello(t, base)
			res := req(t, "POST", base+"/send", tc.body, creds(h, h.Token, 0, 0)...)
			wantStatus(t, res, 400, closecode.Protocol)
		})
	}
	stillServes(t, base)
}

func TestSecurityBadHeaders(t *testing.T) {
	_, base := start(t, echo, nil)
	h := pollHello(t, base)
	for _, hdr := range [][]string{
		nil,
		{transport.HeaderSession, h.SessionID},
		{transport.HeaderToken, h.Token},
	} {
		wantStatus(t, req(t, "POST", base+"/send", body("S1", "Mx"), hdr...), 400, closecode.Protocol)
	}
	for _, name := range []string{transport.HeaderAck, transport.HeaderConn} {
		for _, v := range []string{"-1", "01", "x", "+1", "0x1", "1.0", "18446744073709551616", "99999999999999999999999"} {
			t.Run(name+"="+v, func(t *testing.T) {
				for _, path := range []string{"/poll", "/stream"} {
					res := req(t, "GET", base+path, "", append(creds(h, h.Token, 0, 0), name, v)...)
					wantStatus(t, res, 400, closecode.Protocol)
				}
			})
		}
	}
	// An ack of messages the server never sent.
	for _, path := range []string{"/poll", "/stream"} {
		wantStatus(t, req(t, "GET", base+path, "", creds(h, h.Token, 5, 1)...), 400, closecode.Protocol)
	}
	stillServes(t, base)
}

// TestSecurityConcurrentPoll: a second poll while one is held gets 409; the held one
// still completes normally.
func TestSecurityConcurrentPoll(t *testing.T) {
	started := make(chan struct{}, 1)
	h := server.HandlerFunc(func(ctx context.Context, s *session.Session) {
		select {
		case started <- struct{}{}:
		default:
		}
		echo.ServeSession(ctx, s)
	})
	_, base := start(t, h, &server.Options{Heartbeat: 3 * time.Second})
	hello := pollHello(t, base)
	type result struct {
		status int
		fs     []transport.Frame
		err    error
	}
	held := make(chan result, 1)
	go func() {
		res, err := do(ctxT(t), "GET", base+"/poll", nil, creds(hello, hello.Token, 0, 0)...)
		if err != nil {
			held <- result{err: err}
			return
		}
		defer res.Body.Close()
		rd := transport.NewReader(res.Body, 1<<20)
		var r result
		r.status = res.StatusCode
		for {
			f, err := rd.Next()
			if err != nil {
				break
			}
			f.Data = append([]byte(nil), f.Data...)
			r.fs = append(r.fs, f)
		}
		held <- r
	}()
	// The held poll confirmed the session: the handler started, so the poll holds it.
	select {
	case <-started:
	case <-time.After(5 * time.Second):
		t.Fatal("the second poll did not confirm the session")
	}
	wantStatus(t, req(t, "GET", base+"/poll", "", creds(hello, hello.Token, 0, 0)...), 409, closecode.Superseded)

	// The held poll completes with the echo of what is sent now (or a heartbeat, on
	// a very slow machine, with the echo on the next poll).
	res := req(t, "POST", base+"/send", body("S1", "Mafter"), creds(hello, hello.Token, 0, 0)...)
	if res.StatusCode != 200 {
		t.Fatalf("send: %d", res.StatusCode)
	}
	r := <-held
	if r.err != nil || r.status != 200 {
		t.Fatalf("held poll: %d %v", r.status, r.err)
	}
	var got []string
	for _, f := range r.fs {
		if f.Type == transport.FrameText {
			got = append(got, string(f.Data))
		}
	}
	if len(got) == 0 {
		got = pollTexts(t, base, hello, hello.Token, 0, 0, 1)
	}
	if len(got) != 1 || got[0] != "after" {
		t.Fatalf("held poll got %q, want the echo", got)
	}
	stillServes(t, base)
}

func TestSecurityStaleConnection(t *testing.T) {
	_, base := start(t, echo, &server.Options{Heartbeat: 500 * time.Millisecond})
	h := pollHello(t, base)
	// A new run of polls, numbered 2, takes the session.
	res := req(t, "GET", base+"/poll", "", creds(h, h.Token, 0, 2)...)
	if fs := frames(t, res.Body); res.StatusCode != 200 || len(fs) == 0 || fs[0].Type != transport.FrameHello {
		t.Fatalf("poll conn 2: %d %+v", res.StatusCode, fs)
	}
	for _, conn := range []int{0, 1} {
		for _, path := range []string{"/poll", "/stream"} {
			wantStatus(t, req(t, "GET", base+path, "", creds(h, h.Token, 0, conn)...), 409, closecode.Superseded)
		}
		c := wsDial(t, base, wsResume(h, h.Token, 0, uint64(conn), ""), nil)
		wantWSClose(t, c, closecode.Superseded)
	}
	// The session is still on conn 2.
	req(t, "POST", base+"/send", body("S1", "Mstill mine"), creds(h, h.Token, 0, 2)...)
	if got := pollTexts(t, base, h, h.Token, 0, 2, 1); got[0] != "still mine" {
		t.Fatalf("conn 2 got %q", got)
	}
	stillServes(t, base)
}

func TestSecurityEndpoints(t *testing.T) {
	srv, base := start(t, echo, nil)
	for _, p := range []string{"/__proto__", "/constructor", "/ws/../x", "/ws/..%2fx", "/%2e%2e/ws", "/ws/",
		"/WS", "/poll/x", "/", "/ws%00", "/send;poll"} {
		for _, method := range []string{"GET", "POST"} {
			res := req(t, method, base+p, "")
			if res.StatusCode != 404 {
				t.Fatalf("%s %s: status %d, want 404", method, p, res.StatusCode)
			}
		}
	}
	for _, tc := range []struct{ method, path string }{
		{"PUT", "/poll"}, {"GET", "/send"}, {"POST", "/stream"}, {"POST", "/ws"},
		{"PUT", "/send"}, {"DELETE", "/poll"}, {"PATCH", "/ws"},
	} {
		if res := req(t, tc.method, base+tc.path, body("S1", "Mx")); res.StatusCode != 405 {
			t.Fatalf("%s %s: status %d, want 405", tc.method, tc.path, res.StatusCode)
		}
	}
	// A POST poll carries a send body for a session that exists: it creates none.
	wantStatus(t, req(t, "POST", base+"/poll", body("S1", "Mx")), 400, closecode.Protocol)
	if st := srv.Stats(); st.Created != 0 {
		t.Fatalf("bad endpoints created %d sessions", st.Created)
	}
	stillServes(t, base)
}

func TestSecurityTooManySessions(t *testing.T) {
	srv, base := start(t, echo, &server.Options{MaxSessions: 2})
	hs := []*transport.Hello{pollHello(t, base), pollHello(t, base)}
	for _, path := range []string{"/poll", "/stream"} {
		res := req(t, "GET", base+path, "")
		if res.Header.Get("Retry-After") == "" {
			t.Fatalf("%s: 429 without Retry-After", path)
		}
		wantStatus(t, res, 429, closecode.TooMany)
	}
	wantWSClose(t, wsDial(t, base, transport.ResumeReq{}, nil), closecode.TooMany)
	if n := srv.Stats().Sessions; n != 2 {
		t.Fatalf("%d sessions held after refusals, want 2", n)
	}
	// Closing the two frees their places.
	for _, h := range hs {
		if res := req(t, "POST", base+"/send", body("C1000 bye"), creds(h, h.Token, 0, 0)...); res.StatusCode != 200 {
			t.Fatalf("closing send: %d", res.StatusCode)
		}
	}
	if n := srv.Stats().Sessions; n != 0 {
		t.Fatalf("%d sessions held after closing both", n)
	}
	stillServes(t, base)
}

func TestSecurityWebSocketFirstFrame(t *testing.T) {
	srv, base := start(t, echo, nil)
	for _, tc := range []struct {
		name string
		typ  websocket.MessageType
		data string
	}{
		{"text message", websocket.MessageText, "Mhi"},
		{"binary message", websocket.MessageBinary, "\x00\x01\x02"},
		{"binary R", websocket.MessageBinary, `R{"v":1}`},
		{"garbage", websocket.MessageText, "zzzz"},
		{"empty", websocket.MessageText, ""},
		{"ack", websocket.MessageText, "A0"},
		{"sequence", websocket.MessageText, "S1"},
		{"close", websocket.MessageText, "C1000"},
		{"version 2", websocket.MessageText, `R{"v":2}`},
		{"no version", websocket.MessageText, `R{}`},
		{"broken JSON", websocket.MessageText, `R{"v":1`},
		{"JSON array", websocket.MessageText, `R[1]`},
		{"id without token", websocket.MessageText, `R{"v":1,"sid":"7f0c2a4e-3f5a-4d6e-9b1f-2a3c4d5e6f70"}`},
		{"negative ack", websocket.MessageText, `R{"v":1,"ack":-1}`},
		{"ack overflowing", websocket.MessageText, `R{"v":1,"ack":18446744073709551616}`},
		{"ack never sent", websocket.MessageText, `R{"v":1,"ack":5}`},
		{"__proto__", websocket.MessageText, `R{"v":1,"__proto__":{"sid":"x"}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			held := srv.Stats().Sessions
			c := wsOpen(t, base)
			if err := c.Write(ctxT(t), tc.typ, []byte(tc.data)); err != nil {
				t.Fatal(err)
			}
			if tc.name == "__proto__" { // unknown fields are ignored: a new session
				wsHello(t, c)
				return
			}
			wantWSClose(t, c, closecode.Protocol)
			if n := srv.Stats().Sessions; n != held {
				t.Fatalf("a refused first frame left a session held (%d, was %d)", n, held)
			}
		})
	}
	// R after confirmation is refused too.
	c := wsDial(t, base, transport.ResumeReq{}, nil)
	wsHello(t, c)
	wsSend(t, c, "A0", `R{"v":1}`)
	wantWSClose(t, c, closecode.Protocol)
	stillServes(t, base)
}

// TestSecurityMalformedWebSocket sends bad frames on an attached WebSocket: each
// closes it with 4400, however long the error it causes.
func TestSecurityMalformedWebSocket(t *testing.T) {
	_, base := start(t, echo, nil)
	digits := strings.Repeat("9", 200)
	for _, tc := range []struct {
		name   string
		frames []string
	}{
		{"sequence number of 23 digits", []string{"S99999999999999999999999", "Mx"}},
		{"sequence number of 200 digits", []string{"S" + digits, "Mx"}},
		{"ack of 200 digits", []string{"A" + digits}},
		{"ack overflowing 64 bits", []string{"A18446744073709551616"}},
		{"data without S", []string{"Mno number"}},
		{"sequence gap", []string{"S5", "Mgap"}},
		{"ack of a message never sent", []string{"A5"}},
		{"hello", []string{`H{"v":1,"sid":"x"}`}},
		{"base64 binary frame", []string{"S1", "BAAAA"}},
		{"invalid UTF-8", []string{"S1", "M\xff\xfe"}},
		{"unknown frame type", []string{"X" + digits}},
		{"close code out of range", []string{"C9999 x"}},
		{"close reason too long", []string{"C4000 " + digits}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := wsDial(t, base, transport.ResumeReq{}, nil)
			wsHello(t, c)
			wsSend(t, c, "A0")
			for _, f := range tc.frames {
				if c.Write(ctxT(t), websocket.MessageText, []byte(f)) != nil {
					break // closed already
				}
			}
			wantWSClose(t, c, closecode.Protocol)
		})
	}
	stillServes(t, base)
}

func TestSecurityWebSocketHandshakeTimeout(t *testing.T) {
	_, base := start(t, echo, &server.Options{HandshakeTimeout: 300 * time.Millisecond})
	c := wsOpen(t, base)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _, err := c.Read(ctx)
	if err == nil || errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
		t.Fatalf("a silent WebSocket was not closed: %v", err)
	}
	stillServes(t, base)
}

// TestSecurityWebSocketSizes sends messages around the message limit, under the
// WebSocket read limit (messages over that are in TestSecurityWebSocketRawFrames).
func TestSecurityWebSocketSizes(t *testing.T) {
	_, base := start(t, echo, &server.Options{MaxMessageBytes: 1024})
	big := func(n int) []byte { return bytes.Repeat([]byte("x"), n) }
	for _, tc := range []struct {
		name     string
		typ      websocket.MessageType
		data     []byte
		accepted []closecode.Code // close codes; nil: the message is echoed
	}{
		{"text at the limit", websocket.MessageText, append([]byte("M"), big(1024)...), nil},
		{"binary at the limit", websocket.MessageBinary, big(1024), nil},
		{"text over the message limit", websocket.MessageText, append([]byte("M"), big(1100)...), []closecode.Code{closecode.TooLarge}},
		{"binary over the message limit", websocket.MessageBinary, big(1100), []closecode.Code{closecode.TooLarge}},
		{"text of 5000 bytes", websocket.MessageText, append([]byte("M"), big(5000)...), []closecode.Code{1009, closecode.TooLarge}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := wsDial(t, base, transport.ResumeReq{}, nil)
			wsHello(t, c)
			wsSend(t, c, "A0", "S1")
			if err := c.Write(ctxT(t), tc.typ, tc.data); err != nil {
				t.Fatal(err)
			}
			if tc.accepted != nil {
				wantWSClose(t, c, tc.accepted...)
				return
			}
			if f := wsNext(t, c); f.Type != transport.FrameSeq || f.Num != 1 {
				t.Fatalf("got %c%d, want S1", f.Type, f.Num)
			}
			if f := wsNext(t, c); len(f.Data) != 1024 {
				t.Fatalf("echo of 1024 bytes: %c of %d", f.Type, len(f.Data))
			}
		})
	}
	stillServes(t, base)
}

// TestSecurityWebSocketRawFrames sends frames no WebSocket library would.
func TestSecurityWebSocketRawFrames(t *testing.T) {
	_, base := start(t, echo, &server.Options{MaxMessageBytes: 1024})
	huge := func(length uint64, payload int) []byte {
		b := []byte{wsFin | wsBinary, 0x80 | 127}
		b = binary.BigEndian.AppendUint64(b, length)
		b = append(b, 1, 2, 3, 4)
		return append(b, make([]byte, payload)...)
	}
	big := bytes.Repeat([]byte("x"), 32<<10)
	var fragments []byte
	fragments = append(fragments, clientFrame(wsText, []byte("S"))...)
	for range 30000 {
		fragments = append(fragments, clientFrame(0x0, []byte("1"))...)
	}
	for _, tc := range []struct {
		name      string
		afterR    bool // the session is attached first
		send      []byte
		closeCode []int // acceptable close frame codes; 0 is no close frame
	}{
		{"RSV1 first", false, clientFrame(wsFin|wsRSV1|wsText, []byte(`R{"v":1}`)), []int{0, 1002}},
		{"RSV1 after R", true, clientFrame(wsFin|wsRSV1|wsText, []byte("A0")), []int{0, 1002}},
		{"RSV2 binary", true, clientFrame(wsFin|wsRSV2|wsBinary, []byte("x")), []int{0, 1002}},
		{"unknown opcode", true, clientFrame(wsFin|0x3, []byte("x")), []int{0, 1002}},
		{"unmasked frame", true, []byte{wsFin | wsText, 2, 'A', '0'}, []int{0, 1002}},
		{"ping of 200 bytes", true, clientFrame(wsFin|0x9, make([]byte, 200)), []int{0, 1002}},
		{"fragmented ping", true, clientFrame(0x9, []byte("x")), []int{0, 1002}},
		{"length 2^63", false, huge(1<<63, 0), []int{0, 1002, 1009}},
		{"length 2^64-1", true, huge(1<<64-1, 0), []int{0, 1002, 1009}},
		{"length 2^63-1", true, huge(1<<63-1, 64<<10), []int{1009, int(closecode.TooLarge)}},
		{"flood of one-byte fragments", false, fragments, []int{1009, int(closecode.TooLarge)}},
		// Messages over the read limit (the larger of 16 KiB and the message limit).
		{"text over the read limit", true, clientFrame(wsFin|wsText, append([]byte("S1"), big...)), []int{1009, int(closecode.TooLarge)}},
		{"binary over the read limit", true, clientFrame(wsFin|wsBinary, big), []int{1009, int(closecode.TooLarge)}},
		{"R over the read limit", false, clientFrame(wsFin|wsText, []byte(`R{"v":1,"auth":"`+string(big)+`"}`)), []int{1009, int(closecode.TooLarge)}},
		{"HTTP after the upgrade", false, []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), []int{0, 1002}},
		{"garbage bytes", true, []byte("\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"), []int{0, 1002}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rw := rawUpgrade(t, base)
			if tc.afterR {
				rw.hello()
			}
			go rw.write(tc.send)
			code := rw.closed()
			for _, c := range tc.closeCode {
				if code == c {
					return
				}
			}
			t.Fatalf("close code %d, want one of %v (0: none)", code, tc.closeCode)
		})
	}
	stillServes(t, base)
}

// TestSecurityManyHeaders sends an upgrade with 5000 headers (ws CVE-2024-37890).
func TestSecurityManyHeaders(t *testing.T) {
	_, base := start(t, echo, nil)
	headers := func(n, size int) string {
		var b strings.Builder
		v := strings.Repeat("v", size)
		for i := range n {
			fmt.Fprintf(&b, "X-H-%d: %s\r\n", i, v)
		}
		return b.String()
	}
	t.Run("over the header limit", func(t *testing.T) {
		rw := rawDial(t, base, "")
		go rw.write([]byte(upgradeHead(t, base) + headers(5000, 250) + "\r\n"))
		res, err := http.ReadResponse(rw.br, nil)
		if err == nil && res.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Fatalf("status %d, want 431 (or the connection closed)", res.StatusCode)
		}
	})
	t.Run("under the header limit", func(t *testing.T) {
		rw := rawDial(t, base, upgradeHead(t, base)+headers(5000, 8)+"\r\n")
		res := rw.response()
		switch res.StatusCode {
		case http.StatusSwitchingProtocols:
			rw.hello()
		case http.StatusRequestHeaderFieldsTooLarge:
		default:
			t.Fatalf("status %d, want 101 or 431", res.StatusCode)
		}
	})
	stillServes(t, base)
}

// TestSecurityConcurrentResume resumes one session on two WebSockets at once with the
// same connection number (a concurrent upgrade): at most one may keep the session.
func TestSecurityConcurrentResume(t *testing.T) {
	_, base := start(t, echo, nil)
	h := pollHello(t, base)
	concurrentResume(t, base, h, func(conn, ack uint64) (*peer, error) {
		r := transport.AppendResume(nil, &transport.ResumeReq{V: 1, SessionID: h.SessionID, Token: h.Token, Ack: ack, Conn: conn})
		c, _, err := websocket.Dial(ctxT(t), wsURL(base), nil)
		if err != nil {
			return nil, err
		}
		t.Cleanup(func() { c.CloseNow() })
		if err := c.Write(ctxT(t), websocket.MessageText, r); err != nil {
			return nil, err
		}
		p := &peer{frames: make(chan transport.Frame, 64), end: make(chan closecode.Code, 1)}
		p.send = func(frames ...string) { wsSend(t, c, frames...) }
		go func() {
			for {
				typ, b, err := c.Read(context.Background())
				if err != nil {
					p.end <- closecode.Code(websocket.CloseStatus(err))
					return
				}
				f := transport.Frame{Type: 'b', Data: b}
				if typ == websocket.MessageText {
					if f, err = transport.ParseFrame(b); err != nil {
						p.end <- -2
						return
					}
				}
				p.frames <- f
			}
		}()
		return p, nil
	}, closecode.Superseded)
}

// TestSecurityConcurrentStreamResume does the same with two streams.
func TestSecurityConcurrentStreamResume(t *testing.T) {
	_, base := start(t, echo, nil)
	h := pollHello(t, base)
	concurrentResume(t, base, h, func(conn, ack uint64) (*peer, error) {
		res, err := do(ctxT(t), "GET", base+"/stream", nil, creds(h, h.Token, int(ack), int(conn))...)
		if err != nil {
			return nil, err
		}
		t.Cleanup(func() { res.Body.Close() })
		p := &peer{frames: make(chan transport.Frame, 64), end: make(chan closecode.Code, 1)}
		p.send = func(frames ...string) {
			if res := req(t, "POST", base+"/send", body(frames...), creds(h, h.Token, 0, 0)...); res.StatusCode != 200 {
				t.Fatalf("send: %d", res.StatusCode)
			}
		}
		go func() {
			rd := transport.NewReader(res.Body, 1<<20)
			for {
				f, err := rd.Next()
				switch {
				case err != nil:
					p.end <- 0 // the stream ended
					return
				case res.StatusCode != 200 && f.Type == transport.FrameClose:
					p.end <- closecode.Code(f.Num)
					return
				}
				f.Data = bytes.Clone(f.Data)
				p.frames <- f
			}
		}()
		return p, nil
	}, 0, closecode.Superseded)
}

// peer is one connection of a session, read by its own goroutine.
type peer struct {
	frames chan transport.Frame // what arrives, acks and heartbeats included
	end    chan closecode.Code  // the close code when it ends (0: none)
	send   func(frames ...string)
}

// next returns the next frame that is not an ack or heartbeat, or the end code.
func (p *peer) next(t *testing.T) transport.Frame {
	t.Helper()
	for {
		select {
		case f := <-p.frames:
			if f.Type != transport.FrameAck && f.Type != transport.FramePing {
				return f
			}
		case code := <-p.end:
			t.Fatalf("connection ended with %d", code)
		case <-time.After(10 * time.Second):
			t.Fatal("nothing arrived")
		}
	}
}

// expect reads an S frame numbered seq and the text message want.
func (p *peer) expect(t *testing.T, seq uint64, want string) {
	t.Helper()
	if f := p.next(t); f.Type != transport.FrameSeq || f.Num != seq {
		t.Fatalf("got %c%d %q, want S%d", f.Type, f.Num, f.Data, seq)
	}
	if f := p.next(t); f.Type != transport.FrameText || string(f.Data) != want {
		t.Fatalf("got %c %q, want M%s", f.Type, f.Data, want)
	}
}

// concurrentResume opens two connections numbered 1 to the confirmed session h at
// once: each gets its hello or is refused with one of superseded; within a bounded time
// at most one is left, and it carries the session whole. Then a connection numbered 2
// takes the session, delivers, and ends the survivor.
func concurrentResume(t *testing.T, base string, h *transport.Hello, open func(conn, ack uint64) (*peer, error), superseded ...closecode.Code) {
	t.Helper()
	req(t, "POST", base+"/send", body("A0"), creds(h, h.Token, 0, 0)...)
	wantEnd := func(what string, code closecode.Code) {
		t.Helper()
		for _, c := range superseded {
			if code == c {
				return
			}
		}
		t.Fatalf("%s ended with %d, want one of %v", what, code, superseded)
	}
	peers := make([]*peer, 2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i := range peers {
		wg.Go(func() { peers[i], errs[i] = open(1, 0) })
	}
	wg.Wait()
	var live []*peer
	for i, p := range peers {
		if errs[i] != nil {
			t.Fatalf("concurrent resume: %v", errs[i])
		}
		select {
		case f := <-p.frames:
			if f.Type != transport.FrameHello {
				t.Fatalf("first frame %c, want H", f.Type)
			}
			live = append(live, p)
		case code := <-p.end:
			wantEnd("a concurrent resume", code)
		case <-time.After(10 * time.Second):
			t.Fatal("no hello and no refusal")
		}
	}
	if len(live) == 2 {
		select {
		case code := <-live[0].end:
			wantEnd("the first of two live connections", code)
			live = live[1:]
		case code := <-live[1].end:
			wantEnd("the second of two live connections", code)
			live = live[:1]
		case <-time.After(3 * time.Second):
			t.Fatal("two connections numbered 1 both stayed attached to one session")
		}
	}
	for _, p := range live {
		p.send("S1", "Msurvivor")
		p.expect(t, 1, "survivor")
	}
	third, err := open(2, uint64(len(live)))
	if err != nil {
		t.Fatal(err)
	}
	if f := third.next(t); f.Type != transport.FrameHello {
		t.Fatalf("third: first frame %c, want H", f.Type)
	}
	seq := uint64(1 + len(live))
	third.send("S"+strconv.FormatUint(seq, 10), "Mthird")
	third.expect(t, seq, "third")
	for _, p := range live {
		select {
		case code := <-p.end:
			wantEnd("the survivor", code)
		case <-time.After(10 * time.Second):
			t.Fatal("the survivor was not ended after the third took over")
		}
	}
	stillServes(t, base)
}

func TestSecurityAuth(t *testing.T) {
	var revoked atomic.Bool
	whoami := server.HandlerFunc(func(ctx context.Context, s *session.Session) {
		for {
			typ, p, err := s.Read(ctx)
			if err != nil {
				return
			}
			if string(p) == "whoami" {
				p = []byte(fmt.Sprint(s.Identity()))
			}
			if s.Write(ctx, typ, p) != nil {
				return
			}
		}
	})
	srv, base := start(t, whoami, &server.Options{
		Authenticate: func(r *http.Request, c string) (any, error) {
			switch {
			case c == "bad" || c == "alice" && revoked.Load():
				return nil, errors.New("refused")
			case c == "verbose": // an authenticator with a long error message
				return nil, errors.New(strings.Repeat("the token could not be verified; ", 10))
			}
			return "user:" + c, nil
		},
	})
	auth := func(c string) []string { return []string{transport.HeaderAuth, c} }

	// Refused at creation, whatever the length of the authenticator's error.
	for _, c := range []string{"bad", "verbose"} {
		t.Run("refused "+c, func(t *testing.T) {
			for _, path := range []string{"/poll", "/stream"} {
				wantStatus(t, req(t, "GET", base+path, "", auth(c)...), 401, closecode.Auth)
			}
			wantWSClose(t, wsDial(t, base, transport.ResumeReq{Auth: c}, nil), closecode.Auth)
		})
	}

	// Accepted: the handler sees the identity Authenticate returned.
	ws := wsDial(t, base, transport.ResumeReq{Auth: "alice"}, nil)
	wsH := wsHello(t, ws)
	wsSend(t, ws, "A0", "S1", "Mwhoami")
	wsExpect(t, ws, 1, "user:alice")
	res := req(t, "GET", base+"/poll", "", auth("alice")...)
	fs := frames(t, res.Body)
	if res.StatusCode != 200 || len(fs) == 0 || fs[0].Type != transport.FrameHello {
		t.Fatalf("poll with credentials: %d %+v", res.StatusCode, fs)
	}
	pollH, _ := transport.DecodeHello(fs[0].Data)
	req(t, "POST", base+"/send", body("S1", "Mwhoami"), creds(pollH, pollH.Token, 0, 0)...)
	pollCreds := func(ack, conn int, c string) []string {
		return append(creds(pollH, pollH.Token, ack, conn), auth(c)...)
	}
	if got := pollTexts(t, base, pollH, pollH.Token, 0, 0, 1, auth("alice")...); got[0] != "user:alice" {
		t.Fatalf("poll identity %q", got)
	}
	ws.CloseNow()

	// Refused on resume: 4440, and the session is gone. A later resume, even with
	// good credentials, gets no hello but the code the session ended with
	// (docs/protocol.md §7); with a wrong token, the answer of an unknown session.
	revoked.Store(true)
	wantWSClose(t, wsDial(t, base, wsResume(wsH, wsH.Token, 1, 1, "alice"), nil), closecode.AuthExpired)
	wantWSClose(t, wsDial(t, base, wsResume(wsH, wsH.Token, 1, 2, "bob"), nil), closecode.AuthExpired)
	wantWSClose(t, wsDial(t, base, wsResume(wsH, pollH.Token, 1, 3, "bob"), nil), closecode.Unknown)
	wantStatus(t, req(t, "GET", base+"/poll", "", pollCreds(1, 1, "alice")...), 401, closecode.AuthExpired)
	wantStatus(t, req(t, "GET", base+"/poll", "", pollCreds(1, 2, "bob")...), 401, closecode.AuthExpired)
	wantStatus(t, req(t, "POST", base+"/send", body("S2", "Mx"), pollCreds(1, 2, "bob")...), 401, closecode.AuthExpired)
	wantStatus(t, req(t, "GET", base+"/poll", "", append(creds(pollH, wsH.Token, 1, 3), auth("bob")...)...), 404, closecode.Unknown)
	if n := srv.Stats().Sessions; n != 0 {
		t.Fatalf("%d sessions held after both were refused", n)
	}
	stillServes(t, base)
}

// wantStatusBody is wantStatus for a body already read.
func wantStatusBody(t *testing.T, res *http.Response, b []byte, status int, code closecode.Code) {
	t.Helper()
	if res.StatusCode != status {
		t.Fatalf("status %d, want %d (body %q)", res.StatusCode, status, b)
	}
	fs := frames(t, bytes.NewReader(b))
	if len(fs) != 1 || fs[0].Type != transport.FrameClose || closecode.Code(fs[0].Num) != code {
		t.Fatalf("body %q, want one C%d frame", b, code)
	}
}
