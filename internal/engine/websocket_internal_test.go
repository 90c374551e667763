package engine

import (
	"context"
	"testing"

	"github.com/coder/websocket"

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
