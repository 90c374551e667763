package engine

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/lifelinehq/lifeline/session"
)

// TestBudget: sessions sharing a Budget queue, in both directions, only what fits in
// it; what leaves a queue (read, acknowledged, or the session's end) is given back and
// wakes a Write or Deliver waiting for it.
func TestBudget(t *testing.T) {
	b := NewBudget(100)
	cfg := Config{MaxQueued: 1000, Budget: b}
	s1, s2 := newSession(t, cfg), newSession(t, cfg)
	sixty := strings.Repeat("x", 60)
	write(t, s1, sixty)
	if err := s2.TryWrite(session.Text, []byte(sixty)); !errors.Is(err, session.ErrQueueFull) {
		t.Fatalf("TryWrite past the budget: %v", err)
	}
	if ok, err := s2.Deliver(context.Background(), 1, msg(sixty), false); ok || !errors.Is(err, session.ErrQueueFull) {
		t.Fatalf("Deliver past the budget: %v %v", ok, err)
	}
	// A blocked Write is woken by another session's ack.
	done := make(chan error, 1)
	go func() { done <- s2.Write(context.Background(), session.Text, []byte(sixty)) }()
	if err := s1.Acked(1); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Write woken by an ack: %v", err)
	}
	if b.Used() != 60 {
		t.Fatalf("used %d after the ack, want 60", b.Used())
	}
	// Deliver and Read: taken, then given back.
	deliver(t, s1, 1, "0123456789")
	if b.Used() != 70 {
		t.Fatalf("used %d, want 70", b.Used())
	}
	if _, _, err := s1.Read(context.Background()); err != nil || b.Used() != 60 {
		t.Fatalf("Read: %v, used %d, want 60", err, b.Used())
	}
	// A blocked Deliver is woken by another session's end, which gives back all
	// it held, once.
	deliver(t, s2, 1, "abc")
	go func() {
		_, err := s1.Deliver(context.Background(), 2, msg(strings.Repeat("y", 90)), true)
		done <- err
	}()
	s2.CloseNow(1000, "")
	if err := <-done; err != nil {
		t.Fatalf("Deliver woken by an end: %v", err)
	}
	s2.Read(context.Background()) // what the handler reads after the end was given back already
	if b.Used() != 90 {
		t.Fatalf("used %d, want 90", b.Used())
	}
	s1.CloseNow(1000, "")
	if b.Used() != 0 {
		t.Fatalf("used %d after every session ended, want 0", b.Used())
	}
}
