package server_test

import (
	"strconv"
	"testing"

	"github.com/lifelinehq/lifeline/closecode"
	"github.com/lifelinehq/lifeline/transport"
)

// TestNumbersBeyondTheProtocol: every number a client sends is bounded by what the
// protocol allows (docs/protocol.md §10) on every transport: connection numbers and
// acks in headers and in the R frame, sequence numbers and acks in send bodies, and
// close codes. A connection number of 2^64-1 was accepted, after which no newer
// connection could take the session over; each refusal here leaves the session as it
// was, and a newer connection still takes it.
func TestNumbersBeyondTheProtocol(t *testing.T) {
	_, base := start(t, echo, nil)
	h := pollHello(t, base)
	if res := req(t, "POST", base+"/send", body("A0"), creds(h, h.Token, 0, 0)...); res.StatusCode != 200 {
		t.Fatalf("confirming send: %d", res.StatusCode)
	}
	named := func(ack, conn string) []string {
		return []string{transport.HeaderSession, h.SessionID, transport.HeaderToken, h.Token,
			transport.HeaderAck, ack, transport.HeaderConn, conn}
	}
	conn := 0
	for _, n := range []string{"9007199254740992", "18446744073709551614", "18446744073709551615"} {
		for _, path := range []string{"/poll", "/stream"} {
			wantStatus(t, req(t, "GET", base+path, "", named("0", n)...), 400, closecode.Protocol)
			wantStatus(t, req(t, "GET", base+path, "", named(n, strconv.Itoa(conn+1))...), 400, closecode.Protocol)
		}
		big, _ := strconv.ParseUint(n, 10, 64)
		wantWSClose(t, wsDial(t, base, wsResume(h, h.Token, 0, big, ""), nil), closecode.Protocol)
		wantWSClose(t, wsDial(t, base, wsResume(h, h.Token, big, uint64(conn+1), ""), nil), closecode.Protocol)
		for _, b := range []string{body("S"+n, "Mx"), body("A" + n)} {
			wantStatus(t, req(t, "POST", base+"/send", b, creds(h, h.Token, 0, 0)...), 400, closecode.Protocol)
		}
		// A newer connection still takes the session over.
		conn++
		res := req(t, "GET", base+"/poll", "", creds(h, h.Token, 0, conn)...)
		if fs := frames(t, res.Body); res.StatusCode != 200 || len(fs) == 0 || fs[0].Type != transport.FrameHello {
			t.Fatalf("after conn %s: poll with conn %d: %d %+v", n, conn, res.StatusCode, fs)
		}
	}
	// Close codes a close frame may not carry (WebSocket's reserved and unregistered
	// ones): on send, and on a WebSocket after a resume.
	for _, code := range []string{"1004", "1005", "1006", "1015", "1016", "2000", "2999"} {
		wantStatus(t, req(t, "POST", base+"/send", body("C"+code+" x"), creds(h, h.Token, 0, 0)...), 400, closecode.Protocol)
	}
	conn++
	c := wsDial(t, base, wsResume(h, h.Token, 0, uint64(conn), ""), nil)
	wsHello(t, c)
	wsSend(t, c, "C1006 no")
	wantWSClose(t, c, closecode.Protocol)
	stillServes(t, base)
}
