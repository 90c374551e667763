package server_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/go-chi/chi/v5"

	"github.com/lifelinehq/lifeline/closecode"
	"github.com/lifelinehq/lifeline/internal/lltest"
	"github.com/lifelinehq/lifeline/server"
	"github.com/lifelinehq/lifeline/transport"
)

// echo is the shared echo handler.
var echo = lltest.Echo

// start mounts a server on a chi router at /ll and serves it on 127.0.0.1. Its
// shutdown at the end of the test does not drain (Options.ShutdownDrain) unless opts
// asks to: the test's clients are gone by then.
func start(t testing.TB, h server.Handler, opts *server.Options) (*server.Server, string) {
	t.Helper()
	o := server.Options{ShutdownDrain: -1}
	if opts != nil {
		o = *opts
		if o.ShutdownDrain == 0 {
			o.ShutdownDrain = -1
		}
	}
	srv := server.New(h, &o)
	r := chi.NewRouter()
	r.Mount("/ll", srv)
	ts := httptest.NewServer(r)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		ts.Close()
	})
	return srv, ts.URL + "/ll"
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// wsDial opens the ws endpoint and sends an R frame with req.
func wsDial(t *testing.T, base string, req transport.ResumeReq, h http.Header) *websocket.Conn {
	t.Helper()
	c, _, err := websocket.Dial(ctxT(t), "ws"+strings.TrimPrefix(base, "http")+"/ws", &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.CloseNow() })
	req.V = 1
	wsSend(t, c, string(transport.AppendResume(nil, &req)))
	return c
}

func wsSend(t *testing.T, c *websocket.Conn, frames ...string) {
	t.Helper()
	for _, f := range frames {
		if err := c.Write(ctxT(t), websocket.MessageText, []byte(f)); err != nil {
			t.Fatalf("write %q: %v", f, err)
		}
	}
}

// wsNext reads the next frame that is not an ack or heartbeat; binary messages come
// back as a Frame of type 'b'.
func wsNext(t *testing.T, c *websocket.Conn) transport.Frame {
	t.Helper()
	for {
		typ, p, err := c.Read(ctxT(t))
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		if typ == websocket.MessageBinary {
			return transport.Frame{Type: 'b', Data: p}
		}
		f, err := transport.ParseFrame(p)
		if err != nil {
			t.Fatalf("parse %q: %v", p, err)
		}
		if f.Type != transport.FrameAck && f.Type != transport.FramePing {
			return f
		}
	}
}

func wsHello(t *testing.T, c *websocket.Conn) *transport.Hello {
	t.Helper()
	f := wsNext(t, c)
	if f.Type != transport.FrameHello {
		t.Fatalf("first frame %c, want H", f.Type)
	}
	h, err := transport.DecodeHello(f.Data)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// wsCloseCode reads until the connection closes and returns the close code.
func wsCloseCode(t *testing.T, c *websocket.Conn) closecode.Code {
	t.Helper()
	for {
		_, _, err := c.Read(ctxT(t))
		if err != nil {
			return closecode.Code(websocket.CloseStatus(err))
		}
	}
}

// req makes an HTTP request with Lifeline headers (pairs of name, value).
func req(t *testing.T, method, url, body string, hdr ...string) *http.Response {
	t.Helper()
	r, err := http.NewRequestWithContext(ctxT(t), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	t.Cleanup(func() { res.Body.Close() })
	return res
}

// frames decodes a whole HTTP body.
func frames(t *testing.T, body io.Reader) []transport.Frame {
	t.Helper()
	rd := transport.NewReader(body, 1<<20)
	var out []transport.Frame
	for {
		f, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("body: %v", err)
		}
		f.Data = bytes.Clone(f.Data)
		out = append(out, f)
	}
}

// body encodes frames as an HTTP body.
func body(fs ...string) string {
	var b []byte
	for _, f := range fs {
		b = transport.AppendEvent(b, []byte(f))
	}
	return string(b)
}

// creds returns the header pairs naming a session.
func creds(h *transport.Hello, token string, ack, conn int) []string {
	return []string{transport.HeaderSession, h.SessionID, transport.HeaderToken, token,
		transport.HeaderAck, strconv.Itoa(ack), transport.HeaderConn, strconv.Itoa(conn)}
}

// wantStatus checks an HTTP error's status and the close code in its body.
func wantStatus(t *testing.T, res *http.Response, status int, code closecode.Code) {
	t.Helper()
	if res.StatusCode != status {
		t.Fatalf("status %d, want %d", res.StatusCode, status)
	}
	fs := frames(t, res.Body)
	if len(fs) != 1 || fs[0].Type != transport.FrameClose || closecode.Code(fs[0].Num) != code {
		t.Fatalf("body %+v, want one C%d frame", fs, code)
	}
}

// pollHello creates a session by polling and returns its hello.
func pollHello(t *testing.T, base string) *transport.Hello {
	t.Helper()
	res := req(t, "GET", base+"/poll", "")
	fs := frames(t, res.Body)
	if res.StatusCode != 200 || len(fs) == 0 || fs[0].Type != transport.FrameHello {
		t.Fatalf("poll: %d %+v", res.StatusCode, fs)
	}
	h, err := transport.DecodeHello(fs[0].Data)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func newLocalServer(h http.Handler) *httptest.Server { return httptest.NewServer(h) }
