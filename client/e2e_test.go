package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/lifelinehq/lifeline/internal/lltest"
	"github.com/lifelinehq/lifeline/server"
	"github.com/lifelinehq/lifeline/session"
)

// echo is the shared echo handler.
var echo = lltest.Echo

// quiet discards the log lines of the tests' clients and servers.
var quiet = slog.New(slog.DiscardHandler)

// startServer serves h on 127.0.0.1 and returns the mount URL. wrap, if set, wraps
// the server's handler.
func startServer(t *testing.T, h server.Handler, opts *server.Options, wrap ...func(http.Handler) http.Handler) string {
	t.Helper()
	if opts == nil {
		opts = &server.Options{}
	}
	if opts.Logger == nil {
		opts.Logger = quiet
	}
	if opts.ShutdownDrain == 0 {
		opts.ShutdownDrain = -1 // the clients are closed first: no one to wait for
	}
	srv := server.New(h, opts)
	var hh http.Handler = srv
	for _, w := range wrap {
		hh = w(hh)
	}
	ts := httptest.NewServer(hh)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		ts.Close()
	})
	return ts.URL
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// dial dials url with opts and closes the Conn at the end of the test.
func dial(t *testing.T, url string, opts *Options) *Conn {
	t.Helper()
	if opts == nil {
		opts = &Options{}
	}
	if opts.Logger == nil {
		opts.Logger = quiet
	}
	c, err := Dial(testCtx(t), url, opts)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { c.CloseNow() })
	return c
}

// message i of an echo exchange: text with a line break, binary with every byte value.
func message(i int) (session.MessageType, []byte) {
	if i%3 == 2 {
		p := make([]byte, 300+i)
		for j := range p {
			p[j] = byte(i + j)
		}
		return session.Binary, p
	}
	return session.Text, fmt.Appendf(nil, "message %d\nsecond line ü", i)
}

// exchange writes n messages and reads their echoes, checking order and content; hook,
// if set, runs after each echo is read.
func exchange(t *testing.T, c *Conn, from, n int, hook ...func(i int)) {
	t.Helper()
	ctx := testCtx(t)
	errc := make(chan error, 1)
	go func() {
		for i := from; i < from+n; i++ {
			typ, p := message(i)
			if err := c.Write(ctx, typ, p); err != nil {
				errc <- err
				return
			}
		}
		errc <- nil
	}()
	for i := from; i < from+n; i++ {
		typ, p, err := c.Read(ctx)
		if err != nil {
			t.Fatalf("Read %d: %v", i, err)
		}
		wtyp, want := message(i)
		if typ != wtyp || !bytes.Equal(p, want) {
			t.Fatalf("message %d: got %v %q, want %v %q", i, typ, p, wtyp, want)
		}
		for _, h := range hook {
			h(i)
		}
	}
	if err := <-errc; err != nil {
		t.Fatalf("Write: %v", err)
	}
}

func TestEcho(t *testing.T) {
	url := startServer(t, echo, nil)
	for _, tc := range []struct {
		name       string
		transports []string
		want       string
	}{
		{"negotiated", nil, "websocket"},
		{"websocket", []string{"websocket"}, "websocket"},
		{"stream", []string{"stream"}, "stream"},
		{"poll", []string{"poll"}, "poll"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, url, &Options{Transports: tc.transports})
			if got := c.Transport(); got != tc.want {
				t.Errorf("Transport() = %q, want %q", got, tc.want)
			}
			if c.SessionID() == "" {
				t.Error("no session id")
			}
			exchange(t, c, 0, 200)
			if err := c.Close(1000, "done"); err != nil {
				t.Errorf("Close: %v", err)
			}
			_, _, err := c.Read(testCtx(t))
			var ce *session.CloseError
			if !errors.As(err, &ce) || ce.Code != 1000 {
				t.Errorf("Read after Close: %v", err)
			}
			if s := c.Stats(); s.Connects != 1 || s.BytesIn == 0 || s.BytesOut == 0 {
				t.Errorf("Stats: %+v", s)
			}
		})
	}
}

// TestHeader: Options.Header goes out on every request and handshake; the server's
// origin check sees it, on every transport.
func TestHeader(t *testing.T) {
	url := startServer(t, echo, nil)
	for _, tr := range []string{"websocket", "stream", "poll"} {
		c := dial(t, url, &Options{Transports: []string{tr}, Header: http.Header{"Origin": {url}}})
		exchange(t, c, 0, 10)
		_, err := Dial(testCtx(t), url, &Options{Transports: []string{tr}, Logger: quiet,
			Header: http.Header{"Origin": {"https://elsewhere.example"}}})
		var ce *session.CloseError
		if !errors.As(err, &ce) || ce.Code != 4403 {
			t.Errorf("%s: Dial from another origin: %v", tr, err)
		}
	}
}
