package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/lifelinehq/lifeline/client"
	"github.com/lifelinehq/lifeline/internal/leakcheck"
	"github.com/lifelinehq/lifeline/server"
	"github.com/lifelinehq/lifeline/session"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// TestEcho: text and binary come back as sent, on every transport; the page and the
// client it loads are served; a foreign origin is refused unless -origin allows it.
func TestEcho(t *testing.T) {
	srv := server.New(server.HandlerFunc(echo), &server.Options{OriginPatterns: []string{"app.example"}})
	ts := httptest.NewServer(routes(srv))
	defer ts.Close()
	defer srv.Shutdown(context.Background())

	for _, tr := range []string{"websocket", "stream", "poll"} {
		t.Run(tr, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c, err := client.Dial(ctx, ts.URL+"/lifeline", &client.Options{Transports: []string{tr}})
			if err != nil {
				t.Fatal(err)
			}
			defer c.CloseNow()
			for _, m := range []struct {
				typ session.MessageType
				p   []byte
			}{{session.Text, []byte("héllo")}, {session.Binary, []byte{0, 255, 1}}, {session.Text, nil}} {
				if err := c.Write(ctx, m.typ, m.p); err != nil {
					t.Fatal(err)
				}
				typ, p, err := c.Read(ctx)
				if err != nil || typ != m.typ || !bytes.Equal(p, m.p) {
					t.Fatalf("echo of %v %q: %v %q %v", m.typ, m.p, typ, p, err)
				}
			}
			if got := c.Transport(); got != tr {
				t.Errorf("transport %q, want %q", got, tr)
			}
		})
	}

	get := func(path, origin string) (int, string) {
		req, _ := http.NewRequest("GET", ts.URL+path, nil)
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		res, err := ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	if code, body := get("/", ""); code != 200 || !bytes.Contains([]byte(body), []byte(`src="/lifeline/lifeline.min.js"`)) {
		t.Errorf("page: %d %.80q", code, body)
	}
	if code, _ := get("/lifeline/lifeline.min.js", ""); code != 200 {
		t.Errorf("client: %d", code)
	}
	if code, _ := get("/lifeline/lifeline.min.js", "https://evil.example"); code != 403 {
		t.Errorf("foreign origin: %d, want 403", code)
	}
	if code, _ := get("/lifeline/lifeline.min.js", "https://app.example"); code != 200 {
		t.Errorf("allowed origin: %d, want 200", code)
	}
}

func TestFlags(t *testing.T) {
	addr, origins, err := parseFlags([]string{"-addr", "127.0.0.1:0", "-origin", "a.example, b.example", "-origin", "*.c.example"})
	if err != nil || addr != "127.0.0.1:0" || !slices.Equal(origins, []string{"a.example", "b.example", "*.c.example"}) {
		t.Errorf("got %q %q %v", addr, origins, err)
	}
	if addr, origins, err := parseFlags(nil); err != nil || addr != "127.0.0.1:8080" || origins != nil {
		t.Errorf("defaults: %q %q %v", addr, origins, err)
	}
	if _, _, err := parseFlags([]string{"-port", "1"}); err == nil {
		t.Error("unknown flag accepted")
	}
}

// TestHTTPServerTimeouts: the http.Server bounds a slow request head and an idle
// keep-alive connection (one set only ReadHeaderTimeout: an idle connection stayed
// open forever), and sets no timeout that would cut a held poll or a stream.
func TestHTTPServerTimeouts(t *testing.T) {
	hs := httpServer(http.NotFoundHandler())
	if hs.ReadHeaderTimeout <= 0 || hs.IdleTimeout <= 0 {
		t.Fatalf("ReadHeaderTimeout %v, IdleTimeout %v: both must be set", hs.ReadHeaderTimeout, hs.IdleTimeout)
	}
	if hs.ReadTimeout != 0 || hs.WriteTimeout != 0 {
		t.Fatalf("ReadTimeout %v, WriteTimeout %v: they would cut polls and streams", hs.ReadTimeout, hs.WriteTimeout)
	}
}
