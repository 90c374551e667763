package engine

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/lifelinehq/lifeline/session"
	"github.com/lifelinehq/lifeline/transport"
)

func TestPullNumbering(t *testing.T) {
	s := newSession(t, Config{})
	write(t, s, "a", "b", "c", "d", "e")
	l, received, err := s.Attach("websocket", 0, 0, true)
	if err != nil || received != 0 {
		t.Fatalf("Attach = %v, %d, %v", l, received, err)
	}
	if s.Transport() != "websocket" || l.Name() != "websocket" || l.Session() != s || !l.Attached() {
		t.Fatalf("after Attach: transport %q, name %q, attached %v", s.Transport(), l.Name(), l.Attached())
	}
	var b Batch
	for _, want := range []struct {
		seq  uint64
		msgs []string
		more bool
	}{
		{1, []string{"a", "b"}, true},
		{3, []string{"c", "d"}, true},
		{5, []string{"e"}, false},
		{0, nil, false},
	} {
		l.Pull(&b, 2, 1<<20, false)
		checkMsgs(t, b, want.seq, want.msgs...)
		if l.More() != want.more {
			t.Fatalf("More() = %v after pulling up to %v", l.More(), want.msgs)
		}
	}
	woken(l)
	write(t, s, "f")
	if !woken(l) {
		t.Error("Write did not wake the link")
	}
	checkMsgs(t, pull(l, false), 6, "f")
}

func TestPullByteLimit(t *testing.T) {
	s := newSession(t, Config{})
	write(t, s, "1111", "2222", "3333", "4444", strings.Repeat("5", 100))
	l := attach(t, s, "stream", 0, 0)
	var b Batch
	l.Pull(&b, 100, 8, false)
	checkMsgs(t, b, 1, "1111", "2222")
	l.Pull(&b, 100, 7, false)
	checkMsgs(t, b, 3, "3333")
	l.Pull(&b, 100, 1, false) // the first message goes even when over the limit
	checkMsgs(t, b, 4, "4444")
	l.Pull(&b, 0, 1<<20, false)
	checkMsgs(t, b, 0)
	l.Pull(&b, 100, 1, false)
	checkMsgs(t, b, 5, strings.Repeat("5", 100))
}

func TestAttachResume(t *testing.T) {
	s := newSession(t, Config{MaxQueued: 5})
	write(t, s, "a", "b", "c", "d", "e")
	full := async(func() error { return s.TryWriteMessage(msg("f")) })
	if err := returned(t, full, "TryWrite"); err != session.ErrQueueFull {
		t.Fatalf("TryWrite = %v, want session.ErrQueueFull", err)
	}
	blocked := async(func() error { return s.Write(t.Context(), session.Text, []byte("f")) })
	stillBlocked(t, blocked, "Write with a full queue")

	l1 := attach(t, s, "websocket", 0, 0)
	checkMsgs(t, pull(l1, false), 1, "a", "b", "c", "d", "e")
	deliver(t, s, 1, "x", "y")
	l1.Detach()
	if !isClosed(l1.Gone()) || l1.Attached() {
		t.Fatal("Detach did not end the link")
	}
	if l1.Detach(); !isClosed(l1.Gone()) { // twice is harmless
		t.Fatal("second Detach")
	}

	// The peer holds 1-3: they are released and 4 on is resent.
	l2, received, err := s.Attach("stream", 1, 3, true)
	if err != nil || received != 2 {
		t.Fatalf("resume Attach = %d, %v; want received 2", received, err)
	}
	if err := returned(t, blocked, "Write after the resume released messages"); err != nil {
		t.Fatal(err)
	}
	checkMsgs(t, pull(l2, false), 4, "d", "e", "f")

	if err := s.Acked(2); err != nil {
		t.Errorf("Acked of released messages = %v, want nil (old news)", err)
	}
	if err := s.Acked(7); !errors.Is(err, ErrProtocol) {
		t.Errorf("Acked(7) of a message never written = %v, want ErrProtocol", err)
	}
	// An older ack on a later resume resends from what is still held.
	l3 := attach(t, s, "websocket", 2, 1)
	checkMsgs(t, pull(l3, false), 4, "d", "e", "f")
	if _, _, err := s.Attach("websocket", 3, 99, true); !errors.Is(err, ErrProtocol) {
		t.Errorf("Attach acking unwritten messages = %v, want ErrProtocol", err)
	}
	if !l3.Attached() {
		t.Error("a refused Attach detached the current link")
	}
}

func TestAttachSupersedes(t *testing.T) {
	s := newSession(t, Config{})
	l1 := attach(t, s, "websocket", 1, 0)
	l2 := attach(t, s, "stream", 2, 0)
	waitClosed(t, l1.Gone(), "Gone of the superseded link")
	if l1.Attached() || !l2.Attached() || s.Transport() != "stream" || s.LastConn() != 2 {
		t.Fatalf("attached: old %v new %v; transport %q, last conn %d", l1.Attached(), l2.Attached(), s.Transport(), s.LastConn())
	}
	if b := pull(l1, false); !errors.Is(b.Gone, ErrSuperseded) {
		t.Errorf("Pull on the superseded link: Gone = %v, want ErrSuperseded", b.Gone)
	}
	write(t, s, "a")
	if l1.More() {
		t.Error("More() on the superseded link")
	}

	refused := []struct {
		name string
		conn uint64
	}{
		{"poll", 1},      // lower number
		{"websocket", 0}, // lower number
		{"websocket", 2}, // same number, other transport
	}
	for _, r := range refused {
		if _, _, err := s.Attach(r.name, r.conn, 0, true); !errors.Is(err, ErrSuperseded) {
			t.Errorf("Attach(%s, %d) under conn 2 = %v, want ErrSuperseded", r.name, r.conn, err)
		}
	}
	if isClosed(l2.Gone()) || !l2.Attached() {
		t.Fatal("a refused Attach ended the current link")
	}

	// The session remembers the number after its link is gone: a stale request
	// delayed in the network cannot take it back.
	l2.Detach()
	for _, r := range refused {
		if _, _, err := s.Attach(r.name, r.conn, 0, true); !errors.Is(err, ErrSuperseded) {
			t.Errorf("Attach(%s, %d) after conn 2 detached = %v, want ErrSuperseded", r.name, r.conn, err)
		}
	}
	checkMsgs(t, pull(attach(t, s, "stream", 2, 0), false), 1, "a")
}

func TestAttachSameConnectionNumber(t *testing.T) {
	s := newSession(t, Config{})
	write(t, s, "a", "b", "c")
	l := attach(t, s, "poll", 4, 0)
	checkMsgs(t, pull(l, false), 1, "a", "b", "c")
	// Two connections may not share a number while one is attached...
	if _, _, err := s.Attach("poll", 4, 1, true); !errors.Is(err, ErrSuperseded) {
		t.Fatalf("Attach with the attached link's number = %v, want ErrSuperseded", err)
	}
	if isClosed(l.Gone()) {
		t.Fatal("the refused Attach ended the attached link")
	}
	// ...but the next poll of a run comes with the number of the detached one, and gets
	// what the peer has not acknowledged.
	l.Detach()
	next := attach(t, s, "poll", 4, 1)
	checkMsgs(t, pull(next, false), 2, "b", "c")
}

// TestAckBeyondPulled: an ack for a message that is queued but was never pulled
// must not leave the link behind the replay buffer. Either the ack is refused (it
// acknowledges a message never sent) or the link carries on with what follows.
func TestAckBeyondPulled(t *testing.T) {
	s := newSession(t, Config{})
	write(t, s, "a", "b", "c")
	l := attach(t, s, "websocket", 0, 0)
	var b Batch
	l.Pull(&b, 1, 1<<20, false)
	checkMsgs(t, b, 1, "a")
	if err := s.Acked(2); errors.Is(err, ErrProtocol) {
		return // refused: fine
	} else if err != nil {
		t.Fatalf("Acked(2) = %v", err)
	}
	write(t, s, "d")
	if !l.More() {
		t.Error("More() = false with messages 3 and 4 never pulled")
	}
	checkMsgs(t, pull(l, false), 3, "c", "d")
}

func TestAckPolicy(t *testing.T) {
	t.Run("every", func(t *testing.T) {
		s := newSession(t, Config{AckEvery: 3, AckDelay: time.Hour})
		l := attach(t, s, "websocket", 0, 0)
		woken(l)
		deliver(t, s, 1, "1", "2")
		if woken(l) {
			t.Error("link woken with fewer than AckEvery messages unacknowledged")
		}
		if b := pull(l, false); b.HasAck {
			t.Errorf("ack %d pulled before it was due", b.Ack)
		}
		deliver(t, s, 3, "3")
		if woken(l) { // it rides on the next Pull, for whatever reason that comes
			t.Error("AckEvery messages woke the link at once: the ack cannot ride on outgoing data")
		}
		if b := pull(l, false); !b.HasAck || b.Ack != 3 {
			t.Errorf("pulled ack %v %d, want 3", b.HasAck, b.Ack)
		}
		if b := pull(l, true); b.HasAck {
			t.Errorf("ack %d pulled again", b.Ack)
		}
		deliver(t, s, 4, "4", "5")
		if b := pull(l, false); b.HasAck {
			t.Errorf("ack %d due with 2 new messages", b.Ack)
		}
	})
	t.Run("ride", func(t *testing.T) {
		// An ack due by count with nothing going out is sent alone after ackRide;
		// once it rode, the next ack waits AckDelay again.
		s := newSession(t, Config{AckEvery: 2, AckDelay: time.Hour})
		l := attach(t, s, "websocket", 0, 0)
		woken(l)
		deliver(t, s, 1, "1", "2")
		select {
		case <-l.Wake():
		case <-time.After(bound):
			t.Fatal("an ack due by count was never sent alone")
		}
		if b := pull(l, false); !b.HasAck || b.Ack != 2 {
			t.Errorf("pulled ack %v %d, want 2", b.HasAck, b.Ack)
		}
		deliver(t, s, 3, "3", "4")
		write(t, s, "reply")
		if b := pull(l, false); !b.HasAck || b.Ack != 4 || len(b.Msgs) != 1 {
			t.Errorf("pulled ack %v %d with %d messages, want 4 riding on the reply", b.HasAck, b.Ack, len(b.Msgs))
		}
		deliver(t, s, 5, "5")
		s.mu.Lock()
		armed, riding := s.ackArmed, s.ackRiding
		s.mu.Unlock()
		if !armed || riding {
			t.Errorf("after a ride, one new message: timer armed %v, riding %v; want the AckDelay timer", armed, riding)
		}
	})
	t.Run("delay", func(t *testing.T) {
		s := newSession(t, Config{AckEvery: 1000, AckDelay: 5 * time.Millisecond})
		l := attach(t, s, "websocket", 0, 0)
		woken(l)
		deliver(t, s, 1, "1")
		select {
		case <-l.Wake():
		case <-time.After(bound):
			t.Fatal("AckDelay passed without waking the link")
		}
		if b := pull(l, false); !b.HasAck || b.Ack != 1 {
			t.Errorf("pulled ack %v %d after AckDelay, want 1", b.HasAck, b.Ack)
		}
	})
	t.Run("jitter", func(t *testing.T) {
		// Each wait is AckDelay plus a fresh random part of AckJitter: receivers of one
		// broadcast spread their acks over the jitter.
		c := Config{AckDelay: time.Hour, AckJitter: time.Hour}.withDefaults()
		seen := map[time.Duration]bool{}
		for range 100 {
			d := c.AckWait()
			if d < time.Hour || d >= 2*time.Hour {
				t.Fatalf("wait %v, want in [1h, 2h)", d)
			}
			seen[d] = true
		}
		if len(seen) < 90 {
			t.Errorf("100 waits took %d values: not drawn at random", len(seen))
		}
		if d := (Config{AckDelay: time.Hour}).withDefaults().AckWait(); d != time.Hour {
			t.Errorf("wait %v without jitter, want AckDelay", d)
		}
	})
	t.Run("force", func(t *testing.T) {
		s := newSession(t, Config{AckEvery: 1000, AckDelay: time.Hour})
		l := attach(t, s, "websocket", 0, 0)
		deliver(t, s, 1, "1", "2")
		if b := pull(l, false); b.HasAck {
			t.Error("ack pulled before it was due")
		}
		if b := pull(l, true); !b.HasAck || b.Ack != 2 {
			t.Errorf("forced ack %v %d, want 2", b.HasAck, b.Ack)
		}
		if b := pull(l, true); b.HasAck {
			t.Error("forced ack with nothing new")
		}
	})
	t.Run("bytes", func(t *testing.T) {
		s := newSession(t, Config{MaxQueued: 400, AckEvery: 1000, AckDelay: time.Hour})
		l := attach(t, s, "websocket", 0, 0)
		woken(l)
		deliver(t, s, 1, strings.Repeat("x", 99))
		if woken(l) {
			t.Error("woken under a quarter of MaxQueued")
		}
		deliver(t, s, 2, "y") // 100 bytes: a quarter of MaxQueued
		if !woken(l) {
			t.Error("a quarter of MaxQueued unacknowledged did not wake the link")
		}
		if b := pull(l, false); !b.HasAck || b.Ack != 2 {
			t.Errorf("pulled ack %v %d, want 2", b.HasAck, b.Ack)
		}
	})
	t.Run("hello carries the ack", func(t *testing.T) {
		s := newSession(t, Config{AckEvery: 1})
		deliver(t, s, 1, "1", "2")
		l, received, err := s.Attach("websocket", 0, 0, true)
		if err != nil || received != 2 {
			t.Fatalf("Attach = %d, %v; want received 2", received, err)
		}
		if b := pull(l, true); b.HasAck {
			t.Errorf("ack %d pulled though the hello carried it", b.Ack)
		}
		deliver(t, s, 3, "3")
		if b := pull(l, false); !b.HasAck || b.Ack != 3 {
			t.Errorf("pulled ack %v %d, want 3", b.HasAck, b.Ack)
		}
	})
	t.Run("link without acks", func(t *testing.T) {
		s := newSession(t, Config{AckEvery: 1})
		l, _, err := s.Attach("poll", 0, 0, false)
		if err != nil {
			t.Fatal(err)
		}
		deliver(t, s, 1, "1")
		if b := pull(l, true); b.HasAck {
			t.Errorf("ack %d pulled on a link without acks", b.Ack)
		}
	})
}

func TestHold(t *testing.T) {
	s := newSession(t, Config{})
	steps := []struct {
		call string
		conn uint64
		want bool
	}{
		{"Hold", 2, true},
		{"Hold", 2, false}, // one outstanding poll
		{"Hold", 1, false}, // an older run does not take it
		{"Release", 1, false},
		{"Hold", 2, false}, // releasing another connection's hold changes nothing
		{"Hold", 3, true},  // a newer run takes it over
		{"Release", 2, false},
		{"Hold", 3, false},
		{"Release", 3, false},
		{"Hold", 0, true},
	}
	for i, st := range steps {
		if st.call == "Release" {
			s.Release(st.conn)
			continue
		}
		if got := s.Hold(st.conn); got != st.want {
			t.Fatalf("step %d: Hold(%d) = %v, want %v", i, st.conn, got, st.want)
		}
	}
}

// TestTold: a client that resumed with an older ack than it now holds (more arrived
// on the old connection after the resume request went out) owes the peer an ack.
func TestTold(t *testing.T) {
	s := New("id", "tok", Config{})
	for i := uint64(1); i <= 5; i++ {
		if _, err := s.Deliver(t.Context(), i, Message{Type: session.Text, Data: []byte("x")}, false); err != nil {
			t.Fatal(err)
		}
	}
	l, _, err := s.Attach("websocket", 1, 0, true)
	if err != nil {
		t.Fatal(err)
	}
	var b Batch
	l.Pull(&b, 10, 1<<20, true)
	if b.HasAck {
		t.Fatalf("ack %d pulled although Attach takes all 5 as told", b.Ack)
	}
	l.Told(2) // the resume request said 2
	select {
	case <-l.Wake():
	default:
		t.Fatal("Told did not wake the link")
	}
	l.Pull(&b, 10, 1<<20, false)
	if !b.HasAck || b.Ack != 5 {
		t.Fatalf("after Told(2): HasAck %v, Ack %d; want ack 5 due", b.HasAck, b.Ack)
	}
	l.Told(7) // more than was received: nothing changes
	l.Pull(&b, 10, 1<<20, true)
	if b.HasAck {
		t.Fatalf("Told above what was sent made ack %d due", b.Ack)
	}
}

// TestPeerPingedAcks: a P from the peer makes the ack due at once (no AckDelay wait);
// with nothing unacknowledged it asks for nothing.
func TestPeerPingedAcks(t *testing.T) {
	s := newSession(t, Config{AckDelay: time.Hour})
	l := attach(t, s, "websocket", 0, 0)
	s.PeerPinged()
	if b := pull(l, false); b.HasAck {
		t.Fatalf("ack with nothing received: %+v", b)
	}
	deliver(t, s, 1, "a", "b")
	if b := pull(l, false); b.HasAck {
		t.Fatalf("ack due before AckDelay without a P: %+v", b)
	}
	s.PeerPinged()
	if !woken(l) {
		t.Error("PeerPinged did not wake the link")
	}
	if b := pull(l, false); !b.HasAck || b.Ack != 2 {
		t.Fatalf("after P: %+v, want ack 2", b)
	}
}

// TestClosePing: a graceful close with messages unacknowledged asks for one P after
// the last of them, then sends the close once they are acknowledged.
func TestClosePing(t *testing.T) {
	s := newSession(t, Config{})
	l := attach(t, s, "websocket", 0, 0)
	write(t, s, "a", "b")
	s.Close(1000, "bye")
	var b Batch
	l.Pull(&b, 1, 1<<20, false)
	if len(b.Msgs) != 1 || b.Ping || b.Close != nil {
		t.Fatalf("first pull %+v: want a alone", b)
	}
	if b = pull(l, false); len(b.Msgs) != 1 || !b.Ping || b.Close != nil {
		t.Fatalf("second pull %+v: want b and the ping", b)
	}
	if b = pull(l, false); b.Ping || b.Close != nil {
		t.Fatalf("third pull %+v: want nothing until acked", b)
	}
	s.Acked(2)
	if b = pull(l, false); b.Ping || b.Close == nil || b.Close.Code != 1000 {
		t.Fatalf("after the ack %+v: want the close", b)
	}

	// Nothing unacknowledged: the close goes at once, with no P.
	s2 := newSession(t, Config{})
	l2 := attach(t, s2, "websocket", 0, 0)
	s2.Close(1000, "bye")
	if b = pull(l2, false); b.Ping || b.Close == nil {
		t.Fatalf("close with nothing pending: %+v", b)
	}

	// Acknowledged (say, on an earlier connection) before this link sent them: no P.
	s3 := newSession(t, Config{})
	l3 := attach(t, s3, "websocket", 0, 0)
	write(t, s3, "a")
	s3.Close(1000, "bye")
	s3.Acked(1)
	if b = pull(l3, false); b.Ping || b.Close == nil || len(b.Msgs) != 0 {
		t.Fatalf("close after everything was acknowledged: %+v", b)
	}
}

// TestConnBounds: a connection number beyond what a peer may send (transport.MaxNum,
// docs/protocol.md §10) is refused by Attach and Hold, so a session can always be
// taken over by a newer connection: 2^64-1 once left it stuck (nothing is higher) and
// made Hold's conn+1 wrap to 0 (the poll it held then looked free).
func TestConnBounds(t *testing.T) {
	for _, conn := range []uint64{transport.MaxNum + 1, 1<<64 - 2, 1<<64 - 1} {
		s := newSession(t, Config{})
		if s.Hold(conn) {
			t.Errorf("Hold(%d) = true, want a refusal", conn)
		}
		if _, _, err := s.Attach("poll", conn, 0, false); err == nil {
			t.Errorf("Attach(conn %d) accepted", conn)
		}
		if _, _, err := s.Attach("poll", 0, conn, false); err == nil {
			t.Errorf("Attach(ack %d) accepted", conn)
		}
		// The session still takes its first connection, then newer ones up to the bound.
		if _, _, err := s.Attach("poll", 1, 0, false); err != nil {
			t.Fatalf("Attach(1) after refusing %d: %v", conn, err)
		}
		if _, _, err := s.Attach("websocket", transport.MaxNum, 0, true); err != nil {
			t.Fatalf("Attach(MaxNum): %v", err)
		}
		if !s.Hold(transport.MaxNum) || s.Hold(transport.MaxNum) {
			t.Fatal("Hold(MaxNum) twice: want true, then false")
		}
	}
}
