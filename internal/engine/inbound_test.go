package engine

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/lifelinehq/lifeline/transport"
)

func TestInbound(t *testing.T) {
	ctx := context.Background()
	s := newSession(t, Config{})
	in := NewInbound(s)
	frame := func(s string) error {
		f, err := transport.ParseFrame([]byte(s))
		if err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		_, err = in.Frame(ctx, f)
		return err
	}
	if err := frame("Mearly"); !errors.Is(err, ErrProtocol) {
		t.Errorf("data before S: %v", err)
	}
	for _, f := range []string{"S1", "Mone", "Mtwo", "P", "S2", "Mtwo again", "Mthree"} {
		if err := frame(f); err != nil {
			t.Fatalf("%q: %v", f, err)
		}
	}
	for _, want := range []string{"one", "two", "three"} {
		_, p, err := s.Read(ctx)
		if err != nil || string(p) != want {
			t.Fatalf("Read: %q %v, want %q", p, err, want)
		}
	}
	if s.Received() != 3 {
		t.Errorf("Received %d", s.Received())
	}
	if err := frame("S5"); err != nil {
		t.Fatal(err)
	}
	if err := frame("Mgap"); !errors.Is(err, ErrProtocol) {
		t.Errorf("gap: %v", err)
	}
	if err := frame("A1"); !errors.Is(err, ErrProtocol) {
		t.Errorf("ack of nothing sent: %v", err)
	}
	var pc *PeerClose
	if err := frame("C4410 gone"); !errors.As(err, &pc) || pc.Code != 4410 || pc.Reason != "gone" {
		t.Errorf("close frame: %v", err)
	}
	if err := frame(`H{"v":1,"sid":"x"}`); !errors.Is(err, ErrProtocol) {
		t.Errorf("hello mid-connection: %v", err)
	}
}

// TestWatch checks the silence watchdog: it fires after d of silence, not while the
// application is slow to read, and not once stopped.
func TestWatch(t *testing.T) {
	in := NewInbound(newSession(t, Config{}))
	ctx, cancel := context.WithCancelCause(context.Background())
	silent := errors.New("silent")
	stop := in.Watch(30*time.Millisecond, func() { cancel(silent) })
	<-ctx.Done()
	stop()
	if !errors.Is(context.Cause(ctx), silent) {
		t.Errorf("cause %v", context.Cause(ctx))
	}

	ctx, cancel = context.WithCancelCause(context.Background())
	defer cancel(nil)
	in.busy.Store(true)
	stop = in.Watch(10*time.Millisecond, func() { cancel(silent) })
	time.Sleep(50 * time.Millisecond)
	if ctx.Err() != nil {
		t.Error("fired while the application was reading")
	}
	stop()
	in.busy.Store(false)
	time.Sleep(30 * time.Millisecond)
	if ctx.Err() != nil {
		t.Error("fired after stop")
	}
}
