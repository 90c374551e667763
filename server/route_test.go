package server_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/coder/websocket"

	"github.com/lifelinehq/lifeline/client"
	"github.com/lifelinehq/lifeline/server"
	"github.com/lifelinehq/lifeline/session"
	"github.com/lifelinehq/lifeline/transport"
)

// twoNodes is a test Router: node "a" and node "b" each own the sessions whose ids they
// made, and relay every other request to its owner: an HTTP request through a reverse
// proxy, a WebSocket by dialing the owner and pumping messages both ways. It is what
// a cluster's Router does over a broker, here over loopback.
type twoNodes struct {
	name    string
	n       atomic.Int64
	urls    map[string]string // node name to its base URL
	relayed *atomic.Int64
}

func (tn *twoNodes) NewID() string { return fmt.Sprintf("%s-%d", tn.name, tn.n.Add(1)) }

func (tn *twoNodes) Relay(id string) server.Relay {
	owner, _, _ := strings.Cut(id, "-")
	base, ok := tn.urls[owner]
	if owner == tn.name || !ok {
		return nil
	}
	tn.relayed.Add(1)
	u, _ := url.Parse(base)
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.FlushInterval = -1 // streams flush each write
	rp.ErrorLog = nil
	return &relay{ReverseProxy: rp, base: base}
}

type relay struct {
	*httputil.ReverseProxy
	base string
}

func (r *relay) ServeWebSocket(ctx context.Context, c server.MessageConn, first []byte) {
	up, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(r.base, "http")+"/ws", nil)
	if err != nil {
		c.Close(websocket.StatusTryAgainLater, "owner unreachable")
		return
	}
	defer up.CloseNow()
	if up.Write(ctx, websocket.MessageText, first) != nil {
		return
	}
	var wg sync.WaitGroup
	pump := func(from, to server.MessageConn) {
		defer wg.Done()
		defer to.CloseNow()
		for {
			typ, p, err := from.Read(ctx)
			if err != nil {
				if code := websocket.CloseStatus(err); code > 0 {
					to.Close(code, "")
				}
				return
			}
			if to.Write(ctx, typ, p) != nil {
				return
			}
		}
	}
	wg.Add(2)
	go pump(c, up)
	go pump(up, c)
	wg.Wait()
}

// TestRouterRelays runs two nodes behind a round-robin front: every request of a
// session, on every transport, may land on either node, and the session still
// carries every message once and in order, through the Router seam alone.
func TestRouterRelays(t *testing.T) {
	echo := server.HandlerFunc(func(ctx context.Context, s *session.Session) {
		for {
			typ, p, err := s.Read(ctx)
			if err != nil || s.Write(ctx, typ, p) != nil {
				return
			}
		}
	})
	urls := map[string]string{}
	var relayed atomic.Int64
	var nodes []http.Handler
	for _, name := range []string{"a", "b"} {
		srv := server.New(echo, &server.Options{Router: &twoNodes{name: name, urls: urls, relayed: &relayed},
			Logger: slog.New(slog.DiscardHandler)})
		ts := httptest.NewServer(srv)
		t.Cleanup(func() { ts.Close(); srv.Shutdown(context.Background()) })
		urls[name] = ts.URL
		nodes = append(nodes, srv)
	}
	var turn atomic.Int64
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		nodes[turn.Add(1)%2].ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)

	// A WebSocket resume that lands on the node not owning the session is relayed.
	t.Run("websocket resume", func(t *testing.T) {
		c := wsDial(t, urls["a"], transport.ResumeReq{}, nil)
		h := wsHello(t, c)
		wsSend(t, c, "A0", "S1", "Mbefore")
		if f := wsNext(t, c); f.Type != transport.FrameSeq {
			t.Fatalf("got %c, want S", f.Type)
		}
		if f := wsNext(t, c); string(f.Data) != "before" {
			t.Fatalf("echo %q", f.Data)
		}
		c.CloseNow()
		before := relayed.Load()
		c2 := wsDial(t, urls["b"], transport.ResumeReq{SessionID: h.SessionID, Token: h.Token, Ack: 1, Conn: 2}, nil)
		h2 := wsHello(t, c2)
		if h2.SessionID != h.SessionID || h2.Ack != 1 || relayed.Load() != before+1 {
			t.Fatalf("resume through b: hello %+v, relayed %d", h2, relayed.Load()-before)
		}
		wsSend(t, c2, "S2", "Mafter")
		for {
			f := wsNext(t, c2)
			if f.Type == transport.FrameText {
				if string(f.Data) != "after" {
					t.Fatalf("echo %q", f.Data)
				}
				break
			}
		}
	})

	for _, tr := range []string{"websocket", "stream", "poll"} {
		t.Run(tr, func(t *testing.T) {
			before := relayed.Load()
			ctx, cancel := context.WithTimeout(context.Background(), 20e9)
			defer cancel()
			c, err := client.Dial(ctx, front.URL, &client.Options{Transports: []string{tr},
				Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			defer c.CloseNow()
			for i := range 200 {
				msg := fmt.Sprint("m", i)
				if err := c.Write(ctx, session.Text, []byte(msg)); err != nil {
					t.Fatal(err)
				}
				if _, p, err := c.Read(ctx); err != nil || string(p) != msg {
					t.Fatalf("echo %d: %q %v", i, p, err)
				}
			}
			if s := c.Stats(); s.Resets != 0 || c.Transport() != tr {
				t.Errorf("on %s, stats %+v", c.Transport(), s)
			}
			if tr != "websocket" && relayed.Load() == before {
				t.Error("no request was relayed")
			}
			if err := c.Close(1000, ""); err != nil && err != io.EOF {
				t.Error(err)
			}
		})
	}
}
