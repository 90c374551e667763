package server_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/lifelinehq/lifeline/closecode"
	"github.com/lifelinehq/lifeline/server"
	"github.com/lifelinehq/lifeline/session"
	"github.com/lifelinehq/lifeline/transport"
)

// TestWebSocketRequests: requests both ways on the wire (docs/protocol.md §16). The
// client's request arrives before the handler calls OnRequest: it waits for it. The
// handler then asks the client, and reports the client's failure as a message.
func TestWebSocketRequests(t *testing.T) {
	_, base := start(t, server.HandlerFunc(func(ctx context.Context, s *session.Session) {
		if _, p, err := s.Read(ctx); err != nil || string(p) != "go" {
			t.Errorf("handler read %q, %v", p, err)
			return
		}
		s.OnRequest(func(_ context.Context, req []byte) ([]byte, error) {
			if string(req) == "fail" {
				return nil, errors.New("as asked")
			}
			return []byte("re:" + string(req)), nil
		})
		reply, err := s.Request(ctx, []byte("ping?"))
		s.Write(ctx, session.Text, []byte("got "+string(reply)))
		_, err = s.Request(ctx, []byte("and?"))
		var re *session.RequestError
		if errors.As(err, &re) {
			s.Write(ctx, session.Text, []byte("failed: "+re.Message))
		}
		<-ctx.Done()
	}), nil)
	c := wsDial(t, base, transport.ResumeReq{}, nil)
	wsHello(t, c)
	wsSend(t, c, "A0", "S1", "Q1 early", "Mgo", `Q2 {"a":[1]}`, "Q3 fail")
	want := []string{"S1", "Y1 re:early", "Q1 ping?", `Y2 re:{"a":[1]}`, "X3 as asked"}
	got := map[string]bool{}
	for range want {
		f := wsNext(t, c)
		got[frameText(f)] = true
	}
	for _, w := range want {
		if !got[w] {
			t.Fatalf("frames %v, want %q", got, want)
		}
	}
	wsSend(t, c, "Y1 pong")
	if f := wsNext(t, c); frameText(f) != "Mgot pong" {
		t.Fatalf("after the reply: %q", frameText(f))
	}
	if f := wsNext(t, c); frameText(f) != "Q2 and?" {
		t.Fatalf("the second request: %q", frameText(f))
	}
	wsSend(t, c, "X2 no request handler")
	if f := wsNext(t, c); frameText(f) != "Mfailed: no request handler" {
		t.Fatalf("after the failure: %q", frameText(f))
	}
}

// frameText writes f back as its wire text, with S frames as S<n>.
func frameText(f transport.Frame) string {
	switch f.Type {
	case transport.FrameSeq:
		return string(transport.AppendNum(nil, f.Type, f.Num))
	case transport.FrameRequest, transport.FrameReply, transport.FrameFailure:
		return string(transport.AppendCall(nil, f.Type, f.Num, f.Data))
	}
	return string(f.Type) + string(f.Data)
}

// TestRequestProtocolErrors: a request id not above the previous one, and a reply to
// a request the server never sent, end the connection with 4400, on WebSocket and in
// a send body.
func TestRequestProtocolErrors(t *testing.T) {
	_, base := start(t, server.HandlerFunc(func(ctx context.Context, s *session.Session) {
		s.OnRequest(func(_ context.Context, req []byte) ([]byte, error) { return req, nil })
		<-ctx.Done()
	}), nil)
	for _, bad := range [][]string{
		{"Q2 a", "Q2 b"},
		{"Q2 a", "Q1 b"},
		{"Y1 never asked"},
		{"X1 never asked"},
	} {
		c := wsDial(t, base, transport.ResumeReq{}, nil)
		wsHello(t, c)
		wsSend(t, c, append([]string{"A0", "S1"}, bad...)...)
		if code := wsCloseCode(t, c); code != closecode.Protocol {
			t.Errorf("WebSocket %q: close code %v, want 4400", bad, code)
		}

		h := pollHello(t, base)
		res := req(t, "POST", base+"/send", body(append([]string{"S1"}, bad...)...), creds(h, h.Token, 0, 0)...)
		fs := frames(t, res.Body)
		if res.StatusCode != 400 || len(fs) != 1 || fs[0].Num != 4400 || !strings.Contains(string(fs[0].Data), "request") {
			t.Errorf("send %q: %d %+v, want 400 and C4400 naming the request", bad, res.StatusCode, fs)
		}
	}
}
