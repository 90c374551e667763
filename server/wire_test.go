package server_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lifelinehq/lifeline/closecode"
	"github.com/lifelinehq/lifeline/server"
	"github.com/lifelinehq/lifeline/session"
	"github.com/lifelinehq/lifeline/transport"
)

func TestWebSocketEcho(t *testing.T) {
	_, base := start(t, echo, nil)
	c := wsDial(t, base, transport.ResumeReq{}, nil)
	h := wsHello(t, c)
	if h.Token == "" || h.SessionID == "" || h.Heartbeat != 15000 || h.MaxMessage != 65536 {
		t.Fatalf("hello %+v", h)
	}
	wsSend(t, c, "A0", "S1", "Mhello", "Mworld")
	if err := c.Write(ctxT(t), 2, []byte{0, 1, 2, 255}); err != nil {
		t.Fatal(err)
	}
	want := []string{"S1", "Mhello", "Mworld"}
	for _, w := range want {
		f := wsNext(t, c)
		got := string(f.Type) + string(f.Data)
		if f.Type == transport.FrameSeq {
			got = "S1"
			if f.Num != 1 {
				t.Fatalf("S%d", f.Num)
			}
		}
		if got != w {
			t.Fatalf("got %q, want %q", got, w)
		}
	}
	if f := wsNext(t, c); f.Type != 'b' || string(f.Data) != "\x00\x01\x02\xff" {
		t.Fatalf("binary echo: %+v", f)
	}
}

func TestStreamEcho(t *testing.T) {
	_, base := start(t, echo, nil)
	res := req(t, "GET", base+"/stream", "")
	if ct := res.Header.Get("Content-Type"); ct != "text/event-stream" ||
		res.Header.Get("Cache-Control") != "no-cache, no-transform" || res.Header.Get("X-Accel-Buffering") != "no" {
		t.Fatalf("headers %v", res.Header)
	}
	rd := transport.NewReader(res.Body, 1<<20)
	f, err := rd.Next()
	if err != nil || f.Type != transport.FrameHello {
		t.Fatalf("first frame %+v %v", f, err)
	}
	h, _ := transport.DecodeHello(f.Data)
	send := req(t, "POST", base+"/send", body("A0", "S1", "Mhi\nthere", "B/wA="), creds(h, h.Token, 0, 0)...)
	if fs := frames(t, send.Body); send.StatusCode != 200 || len(fs) != 1 || fs[0].Type != 'A' || fs[0].Num != 2 {
		t.Fatalf("send: %d %+v", send.StatusCode, fs)
	}
	var got []string
	for len(got) < 3 {
		f, err := rd.Next()
		if err != nil {
			t.Fatal(err)
		}
		if f.Type != transport.FramePing {
			got = append(got, string(f.Type)+string(f.Data))
		}
	}
	if got[0] != "S" || got[1] != "Mhi\nthere" || got[2] != "B\xff\x00" {
		t.Fatalf("stream got %q", got)
	}
}

// TestStreamNudge: after a write whose messages go unacknowledged, the stream sends
// nudges long before the heartbeat (a buffering proxy's held tail goes through):
// comment lines, which ask the client for no ack, unlike a P; they stop once the client
// acknowledges. A data write carries a probe (a P) until the client answers one before
// any nudge: then the stream is prompt, and neither probes nor nudges any more.
func TestStreamNudge(t *testing.T) {
	defer server.SetStreamProbeOdds(1)() // every write probes until one shows the stream prompt
	_, base := start(t, echo, &server.Options{Heartbeat: time.Minute})
	res := req(t, "GET", base+"/stream", "")
	defer res.Body.Close()
	br := bufio.NewReader(res.Body)
	// next returns the next event's frame, or ":" for a comment line.
	next := func() string {
		t.Helper()
		ev := ""
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				t.Fatal(err)
			}
			switch line = strings.TrimSuffix(line, "\n"); {
			case strings.HasPrefix(line, ":") && ev == "":
				return ":"
			case line == "" && ev != "":
				return ev
			case strings.HasPrefix(line, "data:"):
				ev += strings.TrimPrefix(line, "data:")
			}
		}
	}
	f, err := transport.ParseFrame([]byte(next()))
	if err != nil || f.Type != transport.FrameHello {
		t.Fatalf("first frame %+v %v", f, err)
	}
	h, _ := transport.DecodeHello(f.Data)
	req(t, "POST", base+"/send", body("A0", "S1", "Mhi"), creds(h, h.Token, 0, 0)...).Body.Close()
	for _, want := range []string{"S1", "Mhi", "P", ":", ":"} { // the probe; nudges at 250 ms and 750 ms, not the 1 min heartbeat
		if got := next(); got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
	req(t, "POST", base+"/send", body("A1"), creds(h, h.Token, 0, 0)...).Body.Close()
	// Acknowledged: the next frame is the echo of a new message, with no nudge before
	// it (the nudge still due finds nothing unacknowledged).
	time.Sleep(2 * time.Second)
	req(t, "POST", base+"/send", body("S2", "Mho"), creds(h, h.Token, 0, 0)...).Body.Close()
	if got := next(); got != "Mho" {
		t.Fatalf("after the ack got %q, want the echo", got)
	}
	// The nudges pushed the first write through, so the stream is not yet shown
	// prompt: this write probes again. Answered at once, before the 250 ms nudge.
	if got := next(); got != "P" {
		t.Fatalf("after the second echo got %q, want the probe", got)
	}
	req(t, "POST", base+"/send", body("A2"), creds(h, h.Token, 0, 0)...).Body.Close()
	time.Sleep(time.Second) // past the nudge that finds the ack
	for i, m := range []string{"hu", "he"} {
		req(t, "POST", base+"/send", body(fmt.Sprintf("S%d", 3+i), "M"+m), creds(h, h.Token, 0, 0)...).Body.Close()
		if i == 0 {
			time.Sleep(time.Second) // a nudge would be due, unacknowledged
		}
		// Prompt: no probe after the echo, no nudge while it goes unacknowledged.
		if got := next(); got != "M"+m {
			t.Fatalf("once prompt got %q, want the echo M%s", got, m)
		}
	}
}

func TestPollEcho(t *testing.T) {
	srv, base := start(t, echo, nil)
	h := pollHello(t, base)
	send := req(t, "POST", base+"/send", body("S1", "Mone", "Mtwo"), creds(h, h.Token, 0, 0)...)
	if send.StatusCode != 200 {
		t.Fatalf("send %d", send.StatusCode)
	}
	got := pollTexts(t, base, h, h.Token, 0, 0, 2)
	if got[0] != "one" || got[1] != "two" {
		t.Fatalf("poll got %q", got)
	}
	if st := srv.Stats(); st.Poll != 1 || st.Created != 1 || st.MessagesIn != 2 {
		t.Fatalf("stats %+v", st)
	}
}

// TestPollPost: a POST poll carries a send body. Its messages go in as a send's would,
// the answer starts with the server's ack, and it is held like any later poll until
// there is something to send: an echo comes back in the same response.
func TestPollPost(t *testing.T) {
	srv, base := start(t, echo, &server.Options{Heartbeat: time.Second})
	h := pollHello(t, base)
	describe := func(fs []transport.Frame) string {
		var b strings.Builder
		for _, f := range fs {
			switch f.Type {
			case transport.FrameText:
				b.WriteString("M" + string(f.Data) + " ")
			case transport.FrameHello:
				b.WriteString("H ")
			default:
				fmt.Fprintf(&b, "%c%d ", f.Type, f.Num)
			}
		}
		return strings.TrimSpace(b.String())
	}
	post := func(ack int, frames_ ...string) (int, string) {
		res := req(t, "POST", base+"/poll", body(frames_...), creds(h, h.Token, ack, 0)...)
		return res.StatusCode, describe(frames(t, res.Body))
	}
	// The run's ack is still its first poll's (0): a copy of that poll is greeted again.
	if st, got := post(0, "A0", "S1", "Mone", "Mtwo"); st != 200 || got != "H A2 S1 Mone Mtwo" {
		t.Fatalf("first POST poll: %d %q", st, got)
	}
	if st, got := post(2, "S3", "Mthree"); st != 200 || got != "A3 S3 Mthree" {
		t.Fatalf("second POST poll: %d %q", st, got)
	}
	// Sent again (its answer was lost, say): nothing is delivered twice; the poll is
	// held until the heartbeat, as any with nothing to send.
	if st, got := post(3, "S3", "Mthree"); st != 200 || got != "A3 P0" {
		t.Fatalf("repeated POST poll: %d %q", st, got)
	}
	if st := srv.Stats(); st.MessagesIn != 3 || st.Created != 1 {
		t.Fatalf("stats %+v: want 3 messages in one session", st)
	}
	// A bad body is refused as a send's would be, before anything is held.
	wantStatus(t, req(t, "POST", base+"/poll", "data:Zbad\n\n", creds(h, h.Token, 3, 0)...), 400, closecode.Protocol)
	// A close in a POST poll ends the session: the poll answers with its code.
	h = pollHello(t, base)
	wantStatus(t, req(t, "POST", base+"/poll", body("A0", "C4000 bye"), creds(h, h.Token, 0, 0)...), 410, 4000)
	// Only GET and POST.
	res := req(t, "PUT", base+"/poll", "", creds(h, h.Token, 0, 0)...)
	if res.StatusCode != http.StatusMethodNotAllowed || res.Header.Get("Allow") != "GET, POST, OPTIONS" {
		t.Fatalf("PUT poll: %d, Allow %q", res.StatusCode, res.Header.Get("Allow"))
	}
}

// TestCloseAsksForAcks: a handler's graceful close with a message unacknowledged sends
// P after it (the client acknowledges at once instead of after its ack delay), and the
// close once the ack comes.
func TestCloseAsksForAcks(t *testing.T) {
	_, base := start(t, server.HandlerFunc(func(ctx context.Context, s *session.Session) {
		s.Write(ctx, session.Text, []byte("last"))
		s.Close(4000, "bye")
		<-s.Done()
	}), &server.Options{Heartbeat: time.Minute}) // no heartbeat's P within the read timeout
	c := wsDial(t, base, transport.ResumeReq{}, nil)
	wsHello(t, c)
	wsSend(t, c, "A0")
	var got []string
	for len(got) < 3 {
		_, p, err := c.Read(ctxT(t))
		if err != nil {
			t.Fatalf("read: %v (after %q)", err, got)
		}
		got = append(got, string(p))
	}
	if got[0] != "S1" || got[1] != "Mlast" || got[2] != "P" {
		t.Fatalf("got %q, want S1, Mlast, P", got)
	}
	wsSend(t, c, "A1")
	if code := wsCloseCode(t, c); code != 4000 {
		t.Fatalf("close code %d, want 4000", code)
	}
}

// TestPollHeldAtEnd: a poll held when the session ends is answered with the end's
// code (here the client's own close), not 4409, which would leave the client waiting
// for a newer connection (found by the lab: the Go client's Close timed out).
func TestPollHeldAtEnd(t *testing.T) {
	_, base := start(t, echo, nil)
	h := pollHello(t, base)
	req(t, "POST", base+"/send", body("A0"), creds(h, h.Token, 0, 0)...).Body.Close() // confirm
	held := make(chan *http.Response, 1)
	go func() { held <- req(t, "GET", base+"/poll", "", creds(h, h.Token, 0, 0)...) }()
	time.Sleep(300 * time.Millisecond) // the poll is held (were it not, it would get C1000 too)
	req(t, "POST", base+"/send", body("C1000 bye"), creds(h, h.Token, 0, 0)...).Body.Close()
	res := <-held
	fs := frames(t, res.Body)
	if len(fs) != 1 || fs[0].Type != transport.FrameClose || fs[0].Num != 1000 {
		t.Fatalf("held poll: %d %+v", res.StatusCode, fs)
	}
}

// TestResumeMovesTransport writes from the server over a WebSocket that the client
// never acks, cuts it, and resumes on long-polling: everything unacked is resent, in
// order, once.
func TestResumeMovesTransport(t *testing.T) {
	_, base := start(t, echo, nil)
	c := wsDial(t, base, transport.ResumeReq{}, nil)
	h := wsHello(t, c)
	wsSend(t, c, "A0", "S1", "Ma", "Mb", "Mc")
	for range 4 { // S1, a, b, c
		wsNext(t, c)
	}
	c.CloseNow()
	res := req(t, "GET", base+"/poll", "", creds(h, h.Token, 1, 1)...)
	fs := frames(t, res.Body)
	if res.StatusCode != http.StatusOK || len(fs) != 4 || fs[0].Type != 'H' || fs[1].Type != 'S' || fs[1].Num != 2 ||
		string(fs[2].Data) != "b" || string(fs[3].Data) != "c" {
		t.Fatalf("resume poll: %d %+v", res.StatusCode, fs)
	}
	if rh, _ := transport.DecodeHello(fs[0].Data); rh.Ack != 3 || rh.Token != "" {
		t.Fatalf("resume hello %+v", rh)
	}
	// A stale connection number is refused.
	wantStatus(t, req(t, "GET", base+"/stream", "", creds(h, h.Token, 3, 0)...), 409, closecode.Superseded)
}

// TestStreamRecycleBound: a stream ends within one message of StreamBytes, however
// much is queued (it carried a whole 64 KiB batch before), and the next stream
// carries on from there.
func TestStreamRecycleBound(t *testing.T) {
	const n, size, limit = 100, 1000, 4096
	wrote := make(chan struct{})
	_, base := start(t, server.HandlerFunc(func(ctx context.Context, s *session.Session) {
		if _, _, err := s.Read(ctx); err != nil {
			return
		}
		for range n {
			if err := s.Write(ctx, session.Text, bytes.Repeat([]byte("x"), size)); err != nil {
				return
			}
		}
		close(wrote)
		<-s.Done()
	}), &server.Options{StreamBytes: limit})
	h := pollHello(t, base)
	req(t, "POST", base+"/send", body("S1", "Mgo"), creds(h, h.Token, 0, 0)...).Body.Close()
	<-wrote // all 100 queued before the stream attaches: one Pull could take them all
	got := 0
	for conn := 1; conn <= 3; conn++ {
		res := req(t, "GET", base+"/stream", "", creds(h, h.Token, got, conn)...)
		raw, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		if len(raw) > limit+size+16 {
			t.Fatalf("stream %d carried %d bytes, limit %d", conn, len(raw), limit)
		}
		ms := 0
		for _, f := range frames(t, bytes.NewReader(raw)) {
			if f.Type == transport.FrameText {
				ms++
			}
		}
		if ms < limit/size {
			t.Fatalf("stream %d carried %d messages in %d bytes", conn, ms, len(raw))
		}
		got += ms
	}
}
