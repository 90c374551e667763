package server_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/lifelinehq/lifeline/closecode"
	"github.com/lifelinehq/lifeline/transport"
)

// stillServes checks that the server at base still serves a normal client on
// WebSocket and on long-polling, and closes the sessions it made.
func stillServes(t *testing.T, base string) {
	t.Helper()
	stillServesWebSocket(t, base)
	stillServesPoll(t, base)
}

// stillServesWebSocket does a full WebSocket echo round trip, then closes the session
// with C1000 and expects the server's close 1000.
func stillServesWebSocket(t *testing.T, base string) {
	t.Helper()
	c := wsDial(t, base, transport.ResumeReq{}, nil)
	wsHello(t, c)
	wsSend(t, c, "A0", "S1", "Mstill serving")
	wsExpect(t, c, 1, "still serving")
	wsSend(t, c, "A1", "C1000 done")
	if code := wsCloseCode(t, c); code != 1000 {
		t.Fatalf("still serves: websocket close code %d, want 1000", code)
	}
}

// stillServesPoll creates a session by polling, sends a message and polls its echo
// back, then closes the session.
func stillServesPoll(t *testing.T, base string) {
	t.Helper()
	h := pollHello(t, base)
	res := req(t, "POST", base+"/send", body("S1", "Mstill polling"), creds(h, h.Token, 0, 0)...)
	if fs := frames(t, res.Body); res.StatusCode != 200 || len(fs) != 1 || fs[0].Type != 'A' || fs[0].Num != 1 {
		t.Fatalf("still serves: send %d %+v", res.StatusCode, fs)
	}
	if got := pollTexts(t, base, h, h.Token, 0, 0, 1); got[0] != "still polling" {
		t.Fatalf("still serves: poll echo %q", got)
	}
	res = req(t, "POST", base+"/send", body("C1000 done"), creds(h, h.Token, 1, 0)...)
	if res.StatusCode != 200 {
		t.Fatalf("still serves: closing send %d", res.StatusCode)
	}
}

// pollTexts polls (ack and conn as given, the ack advancing; extra header pairs added)
// until n text messages arrived, and returns them. It gives up after 50 polls.
func pollTexts(t *testing.T, base string, h *transport.Hello, token string, ack, conn, n int, extra ...string) []string {
	t.Helper()
	var got []string
	for range 50 {
		res := req(t, "GET", base+"/poll", "", append(creds(h, token, ack, conn), extra...)...)
		if res.StatusCode != 200 {
			t.Fatalf("poll: status %d", res.StatusCode)
		}
		for _, f := range frames(t, res.Body) {
			switch f.Type {
			case transport.FrameText:
				got = append(got, string(f.Data))
				ack++
			case transport.FrameSeq:
				if int(f.Num) != ack+1 {
					t.Fatalf("poll: S%d after ack %d", f.Num, ack)
				}
			}
		}
		if len(got) >= n {
			return got
		}
	}
	t.Fatalf("poll: %d of %d messages after 50 polls: %q", len(got), n, got)
	return nil
}

// wsExpect reads an S frame numbered seq and then the text message want.
func wsExpect(t *testing.T, c *websocket.Conn, seq uint64, want string) {
	t.Helper()
	if f := wsNext(t, c); f.Type != transport.FrameSeq || f.Num != seq {
		t.Fatalf("got %c%d %q, want S%d", f.Type, f.Num, f.Data, seq)
	}
	if f := wsNext(t, c); f.Type != transport.FrameText || string(f.Data) != want {
		t.Fatalf("got %c %q, want M%s", f.Type, f.Data, want)
	}
}

func wsURL(base string) string { return "ws" + strings.TrimPrefix(base, "http") + "/ws" }

// wsDialRaw opens the ws endpoint without sending anything.
func wsDialRaw(t *testing.T, base string, h http.Header) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	c, res, err := websocket.Dial(ctxT(t), wsURL(base), &websocket.DialOptions{HTTPHeader: h})
	if err == nil {
		t.Cleanup(func() { c.CloseNow() })
	}
	return c, res, err
}

// wsOpen opens the ws endpoint and fails the test if the upgrade fails.
func wsOpen(t *testing.T, base string) *websocket.Conn {
	t.Helper()
	c, _, err := wsDialRaw(t, base, nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	return c
}

// wsResume is the R frame that resumes the session of h.
func wsResume(h *transport.Hello, token string, ack, conn uint64, auth string) transport.ResumeReq {
	return transport.ResumeReq{SessionID: h.SessionID, Token: token, Ack: ack, Conn: conn, Auth: auth}
}

// wantWSClose reads until c closes and checks the close code is one of want.
func wantWSClose(t *testing.T, c *websocket.Conn, want ...closecode.Code) {
	t.Helper()
	code := wsCloseCode(t, c)
	for _, w := range want {
		if code == w {
			return
		}
	}
	t.Fatalf("websocket close code %d, want one of %v", code, want)
}

// wantNoCORS checks a refused response carries no CORS grant.
func wantNoCORS(t *testing.T, res *http.Response) {
	t.Helper()
	if v := res.Header.Get("Access-Control-Allow-Origin"); v != "" {
		t.Fatalf("refused response has Access-Control-Allow-Origin %q", v)
	}
	if v := res.Header.Get("Access-Control-Allow-Credentials"); v != "" {
		t.Fatalf("refused response has Access-Control-Allow-Credentials %q", v)
	}
}

// wantCORS checks an allowed cross-origin response grants exactly origin.
func wantCORS(t *testing.T, res *http.Response, origin string) {
	t.Helper()
	if v := res.Header.Get("Access-Control-Allow-Origin"); v != origin {
		t.Fatalf("Access-Control-Allow-Origin %q, want %q", v, origin)
	}
	if v := res.Header.Get("Access-Control-Allow-Credentials"); v != "true" {
		t.Fatalf("Access-Control-Allow-Credentials %q, want true", v)
	}
}

// do sends a request without failing the test, for use off the test goroutine.
func do(ctx context.Context, method, url string, body io.Reader, hdr ...string) (*http.Response, error) {
	r, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return nil, err
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	return http.DefaultClient.Do(r)
}

// endless is a request body of up to total bytes: prefix, then line repeated. It counts
// what was read from it.
type endless struct {
	prefix, line []byte
	total, read  int64
	pos          int
}

func (e *endless) Read(p []byte) (int, error) {
	read := atomic.LoadInt64(&e.read)
	if read >= e.total {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), e.total-read)]
	n := 0
	for n < len(p) {
		if len(e.prefix) > 0 {
			k := copy(p[n:], e.prefix)
			e.prefix = e.prefix[k:]
			n += k
			continue
		}
		k := copy(p[n:], e.line[e.pos:])
		e.pos = (e.pos + k) % len(e.line)
		n += k
	}
	atomic.AddInt64(&e.read, int64(n))
	return n, nil
}

func (e *endless) consumed() int64 { return atomic.LoadInt64(&e.read) }

// rawWS is a WebSocket client written by hand, to send what no library would.
type rawWS struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

// rawDial opens a TCP connection to base's host and sends request head, which must
// end with a blank line.
func rawDial(t *testing.T, base, head string) *rawWS {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	rw := &rawWS{t: t, c: c, br: bufio.NewReader(c)}
	if _, err := io.WriteString(c, head); err != nil {
		t.Fatalf("write request: %v", err)
	}
	return rw
}

// upgradeHead is a WebSocket upgrade request for base's ws endpoint, without its final
// blank line, so that more headers can follow.
func upgradeHead(t *testing.T, base string) string {
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	var key [16]byte
	rand.Read(key[:])
	return "GET " + u.Path + "/ws HTTP/1.1\r\nHost: " + u.Host + "\r\nUpgrade: websocket\r\n" +
		"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " +
		base64.StdEncoding.EncodeToString(key[:]) + "\r\n"
}

// rawUpgrade completes a WebSocket handshake by hand.
func rawUpgrade(t *testing.T, base string) *rawWS {
	t.Helper()
	rw := rawDial(t, base, upgradeHead(t, base)+"\r\n")
	if res := rw.response(); res.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: status %d", res.StatusCode)
	}
	return rw
}

// response reads an HTTP response head.
func (rw *rawWS) response() *http.Response {
	rw.t.Helper()
	res, err := http.ReadResponse(rw.br, nil)
	if err != nil {
		rw.t.Fatalf("read response: %v", err)
	}
	return res
}

// write sends raw bytes; a write error is not a failure (the server may have closed).
func (rw *rawWS) write(p []byte) { rw.c.Write(p) }

// clientFrame encodes a masked client frame; b0 holds FIN, RSV bits and opcode.
func clientFrame(b0 byte, payload []byte) []byte {
	out := []byte{b0}
	switch n := len(payload); {
	case n < 126:
		out = append(out, 0x80|byte(n))
	case n <= 0xffff:
		out = append(out, 0x80|126)
		out = binary.BigEndian.AppendUint16(out, uint16(n))
	default:
		out = append(out, 0x80|127)
		out = binary.BigEndian.AppendUint64(out, uint64(n))
	}
	mask := [4]byte{0x12, 0x34, 0x56, 0x78}
	out = append(out, mask[:]...)
	for i, b := range payload {
		out = append(out, b^mask[i%4])
	}
	return out
}

const (
	wsFin    = 0x80
	wsRSV1   = 0x40
	wsRSV2   = 0x20
	wsText   = 0x1
	wsBinary = 0x2
	wsClose  = 0x8
)

// readFrame reads one server frame (unmasked).
func (rw *rawWS) readFrame() (opcode byte, payload []byte, err error) {
	var hdr [2]byte
	if _, err := io.ReadFull(rw.br, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := uint64(hdr[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(rw.br, b[:]); err != nil {
			return 0, nil, err
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(rw.br, b[:]); err != nil {
			return 0, nil, err
		}
		n = binary.BigEndian.Uint64(b[:])
	}
	if n > 1<<20 {
		return 0, nil, fmt.Errorf("server frame of %d bytes", n)
	}
	payload = make([]byte, n)
	if _, err := io.ReadFull(rw.br, payload); err != nil {
		return 0, nil, err
	}
	return hdr[0] & 0x0f, payload, nil
}

// hello sends an R frame creating a session and reads the server's H.
func (rw *rawWS) hello() {
	rw.t.Helper()
	rw.write(clientFrame(wsFin|wsText, transport.AppendResume(nil, &transport.ResumeReq{V: 1})))
	op, p, err := rw.readFrame()
	if err != nil || op != wsText || len(p) == 0 || p[0] != transport.FrameHello {
		rw.t.Fatalf("raw hello: opcode %d %q %v", op, p, err)
	}
}

// closed reads until the server ends the connection and returns the code of the close
// frame it sent, or 0 if it sent none. A connection still open after the deadline
// (or a non-close frame in the way) fails the test.
func (rw *rawWS) closed() int {
	rw.t.Helper()
	rw.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		op, p, err := rw.readFrame()
		var ne net.Error
		switch {
		case errors.As(err, &ne) && ne.Timeout():
			rw.t.Fatalf("server did not close the connection: %v", err)
		case err != nil:
			return 0 // EOF or reset: closed without a close frame
		case op == wsClose:
			if len(p) < 2 {
				return 1005
			}
			return int(binary.BigEndian.Uint16(p))
		case op == wsText && len(p) > 0 && (p[0] == transport.FramePing || p[0] == transport.FrameAck):
			continue
		default:
			rw.t.Fatalf("server sent opcode %d %q, want the connection closed", op, p)
		}
	}
}
