package engine

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/coder/websocket"

	"github.com/lifelinehq/lifeline/session"
	"github.com/lifelinehq/lifeline/transport"
)

// TestHandleMessageAllocs: a message read from a WebSocket costs one allocation when
// it is a data message, the copy of its payload out of the reader's pooled buffer, and
// none when it is a control frame (A, P, S). The payload the session keeps does not
// share the reader's buffer.
func TestHandleMessageAllocs(t *testing.T) {
	s := newSession(t, Config{})
	attach(t, s, "websocket", 1, 0)
	in := NewInbound(s)
	ctx := context.Background()
	var f transport.Frame
	handle := func(raw []byte) {
		t.Helper()
		if _, err := handleMessage(ctx, in, nil, websocket.MessageText, raw, nil, &f); err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
	}
	handle([]byte("S1"))
	buf := []byte("Mhello, world")
	if got := testing.AllocsPerRun(100, func() {
		handle(buf)
		if _, _, err := s.Read(ctx); err != nil {
			t.Fatal(err)
		}
	}); got > 1 {
		t.Errorf("a text message: %v allocations, want 1 (its payload)", got)
	}
	for _, frame := range []string{"A0", "P"} {
		raw := []byte(frame)
		if got := testing.AllocsPerRun(100, func() { handle(raw) }); got != 0 {
			t.Errorf("%s: %v allocations, want 0", frame, got)
		}
	}
	handle(buf)
	copy(buf, "Mjello") // the reader reuses its buffer for the next message
	if m, err := read(t, s); err != nil || m != "hello, world" {
		t.Errorf("Read = %q, %v; want the payload as received", m, err)
	}
}

// TestWSWriterSharedFrame: a text message made by Copy (what Write and Broadcast
// queue) goes out as the frame Copy built, not encoded again by each session's writer.
func TestWSWriterSharedFrame(t *testing.T) {
	got := make(chan string, 2)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		for range 2 {
			_, p, err := c.Read(r.Context())
			if err != nil {
				return
			}
			got <- string(p)
		}
	}))
	defer ts.Close()
	ctx := context.Background()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(ts.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	m := Copy(session.Text, []byte("hello"))
	if string(m.Data) != "hello" || string(m.frame) != "Mhello" || &m.frame[1] != &m.Data[0] {
		t.Fatalf("Copy: Data %q, frame %q: want the frame around the data", m.Data, m.frame)
	}
	w := &WSWriter{WS: c, next: 1}
	for i := range 2 { // two sessions' writers send the same message
		w.next = 1
		if _, err := w.Write(ctx, &Batch{Seq: 1, Msgs: []Message{m}}, false); err != nil {
			t.Fatal(err)
		}
		if p := <-got; p != "Mhello" {
			t.Fatalf("write %d sent %q", i, p)
		}
	}
	if w.buf != nil {
		t.Errorf("the writer encoded the message itself (%q)", w.buf)
	}
}
