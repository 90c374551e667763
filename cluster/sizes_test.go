package cluster_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/lifelinehq/lifeline/closecode"
	"github.com/lifelinehq/lifeline/server"
	"github.com/lifelinehq/lifeline/transport"
)

// TestClusterWebSocketSizes: a relayed WebSocket's messages meet the owner's limits as
// a local one's do. With MaxMessageBytes 1024 and NATS messages of at most 8 KiB, a
// message at the limit is echoed, one over it closes with 4413, and one over the
// owner's WebSocket read limit (16 KiB here), which crosses in parts, closes with 1009.
// Each case resumes, through node b, a session created on node a.
func TestClusterWebSocketSizes(t *testing.T) {
	ns := startNATSConf(t, "max_payload: 8192")
	tc := newTestClusterOpts(t, ns, echo, func(o *server.Options) { o.MaxMessageBytes = 1024 }, "a", "b")
	a, b := tc.nodes[0], tc.nodes[1]
	for _, c := range []struct {
		name string
		msg  []byte
		want websocket.StatusCode // 0: echoed
	}{
		{"at the limit", append([]byte("M"), bytes.Repeat([]byte("x"), 1024)...), 0},
		{"over the message limit", append([]byte("M"), bytes.Repeat([]byte("x"), 1100)...), websocket.StatusCode(closecode.TooLarge)},
		{"over the read limit, in parts", append([]byte("M"), bytes.Repeat([]byte("x"), 20000)...), websocket.StatusMessageTooBig},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			first := rawDial(t, ctx, a.url, transport.ResumeReq{})
			h := rawHello(t, ctx, first)
			if err := first.Write(ctx, websocket.MessageText, []byte("A0")); err != nil { // confirms the session
				t.Fatal(err)
			}
			first.CloseNow()
			relayed := b.cl.Stats().RelayedWS
			ws := rawDial(t, ctx, b.url, transport.ResumeReq{SessionID: h.SessionID, Token: h.Token, Conn: 1})
			rawHello(t, ctx, ws)
			if b.cl.Stats().RelayedWS != relayed+1 {
				t.Fatal("the resume on node b was not relayed")
			}
			for _, f := range [][]byte{[]byte("S1"), c.msg} {
				if err := ws.Write(ctx, websocket.MessageText, f); err != nil {
					t.Fatal(err)
				}
			}
			for {
				_, p, err := ws.Read(ctx)
				if c.want == 0 {
					if err != nil {
						t.Fatalf("no echo: %v", err)
					}
					if f, _ := transport.ParseFrame(p); f.Type == transport.FrameText {
						if len(f.Data) != 1024 {
							t.Fatalf("echo of %d bytes, want 1024", len(f.Data))
						}
						return
					}
					continue
				}
				if err != nil {
					var ce websocket.CloseError
					if !errors.As(err, &ce) || ce.Code != c.want {
						t.Fatalf("ended with %v, want close %d", err, c.want)
					}
					return
				}
			}
		})
	}
}

func rawDial(t *testing.T, ctx context.Context, base string, req transport.ResumeReq) *websocket.Conn {
	t.Helper()
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.CloseNow() })
	ws.SetReadLimit(1 << 20)
	req.V = 1
	if err := ws.Write(ctx, websocket.MessageText, transport.AppendResume(nil, &req)); err != nil {
		t.Fatal(err)
	}
	return ws
}

func rawHello(t *testing.T, ctx context.Context, ws *websocket.Conn) *transport.Hello {
	t.Helper()
	_, p, err := ws.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	f, err := transport.ParseFrame(p)
	if err != nil || f.Type != transport.FrameHello {
		t.Fatalf("first frame %q, want H", p)
	}
	h, err := transport.DecodeHello(f.Data)
	if err != nil {
		t.Fatal(err)
	}
	return h
}
