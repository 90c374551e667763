package server_test

import (
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/lifelinehq/lifeline/closecode"
	"github.com/lifelinehq/lifeline/server"
	"github.com/lifelinehq/lifeline/transport"
)

// Every request may reach the server twice: an HTTP client or a proxy retries a GET
// whose connection failed before the answer came, and the first copy may have been
// served already (docs/protocol.md §5). These tests send each kind of request twice,
// as a client whose first answer was lost would see it: the second answer must be one
// the client can use, and nothing may be lost or delivered twice.

// kinds lists the frame types of a body.
func kinds(fs []transport.Frame) string {
	var b []byte
	for _, f := range fs {
		b = append(b, byte(f.Type))
	}
	return string(b)
}

// TestRepeatedOpeningPoll: the second copy of the poll that opens a run is greeted
// too (before, it began with S, and the Go client stopped the session with 4400),
// carries what the first copy carried, and is held like any later poll when there is
// nothing to send; a later poll of the run that acknowledges what the run carried is
// not greeted again.
func TestRepeatedOpeningPoll(t *testing.T) {
	_, base := start(t, echo, &server.Options{Heartbeat: 200 * time.Millisecond})
	h := pollHello(t, base)
	res := req(t, "POST", base+"/send", body("A0", "S1", "Mone"), creds(h, h.Token, 0, 0)...)
	if fs := frames(t, res.Body); res.StatusCode != 200 || kinds(fs) != "A" {
		t.Fatalf("send: %d %+v", res.StatusCode, fs)
	}
	// A new run (connection 1): the echo of "one" is waiting. Both copies must
	// open the run with the hello and carry the echo from the poll's ack.
	for copy := range 2 {
		res := req(t, "GET", base+"/poll", "", creds(h, h.Token, 0, 1)...)
		fs := frames(t, res.Body)
		if res.StatusCode != 200 || len(fs) < 3 || kinds(fs[:3]) != "HSM" || fs[1].Num != 1 || string(fs[2].Data) != "one" {
			t.Fatalf("copy %d of the opening poll: %d %q %+v", copy+1, res.StatusCode, kinds(fs), fs)
		}
	}
	// The run goes on: a poll acknowledging the echo is not greeted.
	res = req(t, "POST", base+"/send", body("S2", "Mtwo"), creds(h, h.Token, 0, 0)...)
	res.Body.Close()
	res = req(t, "GET", base+"/poll", "", creds(h, h.Token, 1, 1)...)
	if fs := frames(t, res.Body); res.StatusCode != 200 || kinds(fs) != "SM" || string(fs[1].Data) != "two" {
		t.Fatalf("later poll: %d %q", res.StatusCode, kinds(fs))
	}
	// A new run on a quiet session (nothing unacknowledged): the opening poll is
	// answered at once with the hello; its second copy is greeted too, and held
	// until the heartbeat (a quiet client polling in a loop is not answered at once).
	for copy := range 2 {
		res := req(t, "GET", base+"/poll", "", creds(h, h.Token, 2, 2)...)
		fs := frames(t, res.Body)
		if res.StatusCode != 200 || len(fs) == 0 || fs[0].Type != transport.FrameHello {
			t.Fatalf("copy %d of a quiet opening poll: %d %q", copy+1, res.StatusCode, kinds(fs))
		}
		if copy == 1 && kinds(fs) != "HP" {
			t.Fatalf("second copy of a quiet opening poll: %q, want a held poll: HP", kinds(fs))
		}
	}
}

// TestRepeatedSend: a send body received twice, or an older one after a newer one,
// delivers each message once and answers the same cumulative ack.
func TestRepeatedSend(t *testing.T) {
	_, base := start(t, echo, nil)
	h := pollHello(t, base)
	send := func(frames ...string) []transport.Frame {
		t.Helper()
		res := req(t, "POST", base+"/send", body(frames...), creds(h, h.Token, 0, 0)...)
		return framesOf(t, res)
	}
	first := append([]string{"A0"}, "S1", "Ma", "S2", "Mb")
	for copy := range 2 {
		if fs := send(first...); kinds(fs) != "A" || fs[0].Num != 2 {
			t.Fatalf("copy %d of a send: %+v", copy+1, fs)
		}
	}
	if fs := send("S3", "Mc"); kinds(fs) != "A" || fs[0].Num != 3 {
		t.Fatalf("next send: %+v", fs)
	}
	if fs := send("S2", "Mb"); kinds(fs) != "A" || fs[0].Num != 3 { // a late copy
		t.Fatalf("late copy of a send: %+v", fs)
	}
	if fs := send("S4", "Md"); kinds(fs) != "A" || fs[0].Num != 4 {
		t.Fatalf("last send: %+v", fs)
	}
	got := pollTexts(t, base, h, h.Token, 0, 0, 4)
	if !slices.Equal(got, []string{"a", "b", "c", "d"}) {
		t.Fatalf("echoed %q, want each message once, in order", got)
	}
}

func framesOf(t *testing.T, res *http.Response) []transport.Frame {
	t.Helper()
	if res.StatusCode != 200 {
		t.Fatalf("status %d", res.StatusCode)
	}
	return frames(t, res.Body)
}

// TestRepeatedStream: a stream request received again after its first copy ended is
// greeted; one received while its first copy is still attached is refused with 4409,
// which tells the client to resume on a newer connection (docs/protocol.md §7), and
// the first copy carries on.
func TestRepeatedStream(t *testing.T) {
	_, base := start(t, echo, nil)
	h := pollHello(t, base)
	res := req(t, "POST", base+"/send", body("A0"), creds(h, h.Token, 0, 0)...)
	res.Body.Close()
	open := func() *http.Response {
		t.Helper()
		return req(t, "GET", base+"/stream", "", creds(h, h.Token, 0, 1)...)
	}
	first := open()
	rd := transport.NewReader(first.Body, 1<<16)
	if f, err := rd.Next(); err != nil || f.Type != transport.FrameHello {
		t.Fatalf("stream: %v %+v", err, f)
	}
	wantStatus(t, open(), http.StatusConflict, closecode.Superseded)
	res = req(t, "POST", base+"/send", body("S1", "Mstill"), creds(h, h.Token, 0, 0)...)
	res.Body.Close()
	for {
		f, err := rd.Next()
		if err != nil {
			t.Fatalf("first copy: %v", err)
		}
		if f.Type == transport.FrameText {
			if string(f.Data) != "still" {
				t.Fatalf("first copy carried %q", f.Data)
			}
			break
		}
	}
	first.Body.Close()
	// Once the first copy is gone (the server notices the closed connection), a
	// second copy is greeted and resends what was not acknowledged.
	for {
		res := open()
		if res.StatusCode == http.StatusConflict {
			res.Body.Close()
			time.Sleep(5 * time.Millisecond)
			continue
		}
		rd := transport.NewReader(res.Body, 1<<16)
		var ks []byte
		for len(ks) < 3 {
			f, err := rd.Next()
			if err != nil {
				t.Fatalf("second copy: %v after %q", err, ks)
			}
			ks = append(ks, byte(f.Type))
		}
		if string(ks) != "HSM" {
			t.Fatalf("second copy began %q, want HSM", ks)
		}
		return
	}
}

// TestRepeatedWebSocketResume: a WebSocket resume (R) received again on a second
// connection is greeted once the first copy has ended (4409 while it is attached: the
// client resumes on a newer connection), with what was not acknowledged.
func TestRepeatedWebSocketResume(t *testing.T) {
	_, base := start(t, echo, nil)
	h := pollHello(t, base)
	res := req(t, "POST", base+"/send", body("A0", "S1", "Mws"), creds(h, h.Token, 0, 0)...)
	res.Body.Close()
	for copy := 0; copy < 2; {
		c := wsDial(t, base, wsResume(h, h.Token, 0, 3, ""), nil)
		_, data, err := c.Read(ctxT(t))
		if copy == 1 && websocket.CloseStatus(err) == websocket.StatusCode(closecode.Superseded) {
			time.Sleep(5 * time.Millisecond) // the first copy is not detached yet
			continue
		}
		f, perr := transport.ParseFrame(data)
		if err != nil || perr != nil || f.Type != transport.FrameHello {
			t.Fatalf("copy %d: %v %v %q", copy+1, err, perr, data)
		}
		wsExpect(t, c, 1, "ws")
		c.CloseNow()
		copy++
	}
}
