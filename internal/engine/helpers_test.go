package engine

import (
	"context"
	"testing"
	"time"

	"github.com/lifelinehq/lifeline/session"
)

// bound is how long a test waits for something that must happen.
const bound = 2 * time.Second

// newSession returns a session that is ended when the test ends.
func newSession(t *testing.T, cfg Config) *Session {
	t.Helper()
	s := New("sid", "token", cfg)
	t.Cleanup(func() { s.CloseNow(1000, "test over") })
	return s
}

func msg(s string) Message { return Message{Type: session.Text, Data: []byte(s)} }

func write(t *testing.T, s *Session, texts ...string) {
	t.Helper()
	for _, m := range texts {
		if err := s.Write(context.Background(), session.Text, []byte(m)); err != nil {
			t.Fatalf("Write(%q): %v", m, err)
		}
	}
}

func deliver(t *testing.T, s *Session, from uint64, texts ...string) {
	t.Helper()
	for i, m := range texts {
		if ok, err := s.Deliver(context.Background(), from+uint64(i), msg(m), false); !ok || err != nil {
			t.Fatalf("Deliver(%d, %q) = %v, %v", from+uint64(i), m, ok, err)
		}
	}
}

// read reads one message, failing the test if none comes.
func read(t *testing.T, s *Session) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	_, p, err := s.Read(ctx)
	return string(p), err
}

func attach(t *testing.T, s *Session, name string, conn, peerAck uint64) *Link {
	t.Helper()
	l, _, err := s.Attach(name, conn, peerAck, true)
	if err != nil {
		t.Fatalf("Attach(%s, %d, %d): %v", name, conn, peerAck, err)
	}
	return l
}

// pull pulls with generous limits.
func pull(l *Link, forceAck bool) Batch {
	var b Batch
	l.Pull(&b, 1000, 1<<20, forceAck)
	return b
}

func texts(ms []Message) []string {
	out := []string{}
	for _, m := range ms {
		out = append(out, string(m.Data))
	}
	return out
}

// checkMsgs fails unless b carries exactly want, numbered from seq.
func checkMsgs(t *testing.T, b Batch, seq uint64, want ...string) {
	t.Helper()
	got := texts(b.Msgs)
	if len(want) == 0 && len(got) == 0 {
		return
	}
	if b.Seq != seq || len(got) != len(want) {
		t.Fatalf("pulled %d %q, want %d %q", b.Seq, got, seq, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("pulled %d %q, want %d %q", b.Seq, got, seq, want)
		}
	}
}

// woken reports whether the link's Wake channel holds a wake-up, consuming it.
func woken(l *Link) bool {
	select {
	case <-l.Wake():
		return true
	default:
		return false
	}
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func waitClosed(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(bound):
		t.Fatalf("%s did not happen within %v", what, bound)
	}
}

// async runs fn in its own goroutine; the channel yields its result.
func async(fn func() error) <-chan error {
	ch := make(chan error, 1)
	go func() { ch <- fn() }()
	return ch
}

// stillBlocked fails if the call behind ch has returned after a short while.
func stillBlocked(t *testing.T, ch <-chan error, what string) {
	t.Helper()
	select {
	case err := <-ch:
		t.Fatalf("%s returned (%v); it should block", what, err)
	case <-time.After(20 * time.Millisecond):
	}
}

// returned waits for the call behind ch to return and gives its error.
func returned(t *testing.T, ch <-chan error, what string) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	case <-time.After(bound):
		t.Fatalf("%s still blocked after %v", what, bound)
		return nil
	}
}
