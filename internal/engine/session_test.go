package engine

import (
	"context"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lifelinehq/lifeline/closecode"
	"github.com/lifelinehq/lifeline/session"
)

// documentedDefaults reads the defaults that Config's field comments in session.go
// state ("Default 50 ms.", "Default 1 MiB."); a field that states none defaults to zero.
func documentedDefaults(t *testing.T) Config {
	t.Helper()
	file, err := parser.ParseFile(token.NewFileSet(), "session.go", nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	var cfg Config
	fields := 0
	ast.Inspect(file, func(n ast.Node) bool {
		ts, ok := n.(*ast.TypeSpec)
		if !ok || ts.Name.Name != "Config" {
			return true
		}
		for _, f := range ts.Type.(*ast.StructType).Fields.List {
			fields++
			doc := strings.Join(strings.Fields(f.Doc.Text()), " ")
			_, text, ok := strings.Cut(doc, "Default ")
			if !ok {
				continue
			}
			text, _, _ = strings.Cut(text, ".")
			text, _, _ = strings.Cut(text, " (") // an aside
			v := reflect.ValueOf(&cfg).Elem().FieldByName(f.Names[0].Name)
			if v.Type() == reflect.TypeFor[time.Duration]() {
				d, err := time.ParseDuration(strings.ReplaceAll(text, " ", ""))
				if err != nil {
					t.Fatalf("%s: default %q: %v", f.Names[0].Name, text, err)
				}
				v.SetInt(int64(d))
				continue
			}
			num, unit, _ := strings.Cut(text, " ")
			n, err := strconv.Atoi(num)
			if err != nil || (unit != "" && unit != "MiB") {
				t.Fatalf("%s: default %q", f.Names[0].Name, text)
			}
			if unit == "MiB" {
				n <<= 20
			}
			v.SetInt(int64(n))
		}
		return false
	})
	if fields != reflect.TypeFor[Config]().NumField() {
		t.Fatalf("read %d Config fields in session.go, the type has %d", fields, reflect.TypeFor[Config]().NumField())
	}
	return cfg
}

func TestNewDefaults(t *testing.T) {
	s := newSession(t, Config{})
	if got, want := s.Config(), documentedDefaults(t); got != want {
		t.Errorf("Config() = %+v, the doc comments say %+v", got, want)
	}
	if want := (Config{MaxMessage: 7, MaxQueued: 8, AckEvery: 9, AckDelay: time.Minute, ResumeWindow: time.Hour}); newSession(t, want).Config() != want {
		t.Errorf("Config() does not keep the values set: %+v", newSession(t, want).Config())
	}
	if s.ID() != "sid" || s.Token() != "token" || s.Transport() != "" || s.Identity() != nil || s.Err() != nil {
		t.Errorf("new session: id %q token %q transport %q identity %v err %v",
			s.ID(), s.Token(), s.Transport(), s.Identity(), s.Err())
	}
	s.SetIdentity("alice")
	if s.Identity() != "alice" {
		t.Errorf("Identity() = %v after SetIdentity(alice)", s.Identity())
	}
	s.SetIdentity(nil)
	if s.Identity() != nil {
		t.Errorf("Identity() = %v after SetIdentity(nil)", s.Identity())
	}
}

func TestDeliverOrderAndDedupe(t *testing.T) {
	s := newSession(t, Config{})
	steps := []struct {
		seq      uint64
		data     string
		accepted bool
		err      error
	}{
		{1, "a", true, nil},
		{2, "b", true, nil},
		{2, "b again", false, nil}, // duplicate from a resend
		{1, "a again", false, nil},
		{4, "d", false, ErrProtocol}, // gap
		{3, "c", true, nil},
		{3, "c again", false, nil},
		{4, "d", true, nil},
		{1 << 40, "far", false, ErrProtocol},
	}
	for _, st := range steps {
		ok, err := s.Deliver(context.Background(), st.seq, msg(st.data), false)
		if ok != st.accepted || !errors.Is(err, st.err) {
			t.Errorf("Deliver(%d, %q) = %v, %v; want %v, %v", st.seq, st.data, ok, err, st.accepted, st.err)
		}
	}
	if got := s.Received(); got != 4 {
		t.Errorf("Received() = %d, want 4", got)
	}
	if ok, err := s.Deliver(context.Background(), 5, Message{Type: session.Binary, Data: []byte{0, 255}}, false); !ok || err != nil {
		t.Fatalf("Deliver(5, binary) = %v, %v", ok, err)
	}
	for _, want := range []string{"a", "b", "c", "d"} {
		if got, err := read(t, s); err != nil || got != want {
			t.Fatalf("Read = %q, %v; want %q", got, err, want)
		}
	}
	typ, p, err := s.Read(context.Background())
	if err != nil || typ != session.Binary || string(p) != "\x00\xff" {
		t.Errorf("Read = %v %q %v; want the binary message", typ, p, err)
	}
}

func TestReadBlocksUntilDeliver(t *testing.T) {
	s := newSession(t, Config{})
	got := make(chan string, 1)
	done := async(func() error {
		_, p, err := s.Read(context.Background())
		got <- string(p)
		return err
	})
	stillBlocked(t, done, "Read on an empty session")
	deliver(t, s, 1, "hello")
	if err := returned(t, done, "Read"); err != nil || <-got != "hello" {
		t.Fatalf("Read: %v", err)
	}
}

func TestReadContext(t *testing.T) {
	s := newSession(t, Config{})
	ctx, cancel := context.WithCancel(context.Background())
	done := async(func() error { _, _, err := s.Read(ctx); return err })
	stillBlocked(t, done, "Read")
	cancel()
	if err := returned(t, done, "Read after cancel"); err != context.Canceled {
		t.Errorf("Read after cancel = %v, want context.Canceled", err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	if _, _, err := s.Read(ctx); err != context.DeadlineExceeded {
		t.Errorf("Read past the deadline = %v, want context.DeadlineExceeded", err)
	}
	// The session is unharmed.
	deliver(t, s, 1, "x")
	if got, err := read(t, s); err != nil || got != "x" {
		t.Errorf("Read = %q, %v", got, err)
	}
}

func TestWriteBackpressure(t *testing.T) {
	s := newSession(t, Config{MaxQueued: 10})
	write(t, s, "123456", "7890") // exactly 10 bytes
	if err := s.TryWriteMessage(msg("x")); err != session.ErrQueueFull {
		t.Fatalf("TryWrite with a full queue = %v, want session.ErrQueueFull", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	canceled := async(func() error { return s.Write(ctx, session.Text, []byte("cancelled")) })
	stillBlocked(t, canceled, "Write with a full queue")
	cancel()
	if err := returned(t, canceled, "Write after cancel"); err != context.Canceled {
		t.Fatalf("Write after cancel = %v, want context.Canceled", err)
	}

	blocked := async(func() error { return s.Write(context.Background(), session.Text, []byte("abc")) })
	stillBlocked(t, blocked, "Write with a full queue")
	l := attach(t, s, "websocket", 0, 0)
	checkMsgs(t, pull(l, false), 1, "123456", "7890")
	stillBlocked(t, blocked, "Write with sent but unacknowledged messages")
	if err := s.Acked(1); err != nil {
		t.Fatal(err)
	}
	if err := returned(t, blocked, "Write after an ack freed space"); err != nil {
		t.Fatalf("Write after an ack = %v", err)
	}
	// Neither the TryWrite nor the cancelled Write queued anything.
	checkMsgs(t, pull(l, false), 3, "abc")
}

func TestWriteBigMessageIntoEmptyQueue(t *testing.T) {
	// A message over MaxQueued (but within MaxMessage) still goes out when the queue
	// is empty; otherwise its writer would wait forever.
	s := newSession(t, Config{MaxQueued: 4, MaxMessage: 100})
	if err := s.TryWriteMessage(msg("0123456789")); err != nil {
		t.Fatalf("TryWrite into an empty queue: %v", err)
	}
	if err := s.TryWriteMessage(msg("x")); err != session.ErrQueueFull {
		t.Fatalf("TryWrite behind it = %v, want session.ErrQueueFull", err)
	}
}

func TestMessageTooLarge(t *testing.T) {
	s := newSession(t, Config{MaxMessage: 8})
	ctx := context.Background()
	big, fits := []byte("123456789"), []byte("12345678")
	calls := map[string]func([]byte) error{
		"Write":        func(p []byte) error { return s.Write(ctx, session.Binary, p) },
		"WriteMessage": func(p []byte) error { return s.WriteMessage(ctx, Message{Type: session.Text, Data: p}) },
		"TryWrite":     func(p []byte) error { return s.TryWriteMessage(Message{Type: session.Text, Data: p}) },
	}
	for name, call := range calls {
		if err := call(big); err != session.ErrTooLarge {
			t.Errorf("%s(9 bytes) = %v, want session.ErrTooLarge", name, err)
		}
		if err := call(fits); err != nil {
			t.Errorf("%s(8 bytes) = %v", name, err)
		}
	}
	if ok, err := s.Deliver(ctx, 1, Message{Type: session.Text, Data: big}, false); ok || err != session.ErrTooLarge {
		t.Errorf("Deliver(9 bytes) = %v, %v; want session.ErrTooLarge", ok, err)
	}
	if s.Received() != 0 {
		t.Errorf("Received() = %d after a refused message", s.Received())
	}
	for _, typ := range []session.MessageType{0, 3, -1} {
		if err := s.Write(ctx, typ, fits); err != ErrProtocol {
			t.Errorf("Write of type %d = %v, want ErrProtocol", typ, err)
		}
	}
}

func TestWriteCopiesPayload(t *testing.T) {
	s := newSession(t, Config{})
	p := []byte("original")
	if err := s.Write(context.Background(), session.Text, p); err != nil {
		t.Fatal(err)
	}
	copy(p, "CHANGED!")
	checkMsgs(t, pull(attach(t, s, "websocket", 0, 0), false), 1, "original")
}

func TestDeliverBackpressure(t *testing.T) {
	s := newSession(t, Config{MaxQueued: 4})
	deliver(t, s, 1, "abcd")
	if ok, err := s.Deliver(context.Background(), 2, msg("e"), false); ok || err != session.ErrQueueFull {
		t.Fatalf("Deliver with the inbound queue full = %v, %v; want session.ErrQueueFull", ok, err)
	}
	done := async(func() error {
		_, err := s.Deliver(context.Background(), 2, msg("e"), true)
		return err
	})
	stillBlocked(t, done, "Deliver(wait) with the inbound queue full")
	if got, err := read(t, s); err != nil || got != "abcd" {
		t.Fatalf("Read = %q, %v", got, err)
	}
	if err := returned(t, done, "Deliver after a Read"); err != nil {
		t.Fatal(err)
	}
	if got, err := read(t, s); err != nil || got != "e" {
		t.Fatalf("Read = %q, %v", got, err)
	}
}

func TestGracefulClose(t *testing.T) {
	s := newSession(t, Config{})
	write(t, s, "a", "b", "c")
	if err := s.Close(closecode.Normal, "bye"); err != nil {
		t.Fatal(err)
	}
	if err := s.Write(context.Background(), session.Text, []byte("late")); !errors.Is(err, session.ErrClosed) {
		t.Errorf("Write after Close = %v, want session.ErrClosed", err)
	}
	if err := s.TryWriteMessage(msg("late")); !errors.Is(err, session.ErrClosed) {
		t.Errorf("TryWrite after Close = %v, want session.ErrClosed", err)
	}

	// Messages written before Close still go out first, across a resume.
	l1 := attach(t, s, "websocket", 0, 0)
	var b Batch
	l1.Pull(&b, 2, 1<<20, false)
	checkMsgs(t, b, 1, "a", "b")
	if b.Close != nil {
		t.Fatalf("Close pulled with messages still unsent: %+v", b)
	}
	l1.Detach()
	l2 := attach(t, s, "websocket", 1, 1)
	b = pull(l2, false)
	checkMsgs(t, b, 2, "b", "c")
	if b.Close != nil {
		t.Fatal("Close pulled before the messages were acknowledged")
	}
	if err := s.Acked(2); err != nil {
		t.Fatal(err)
	}
	if b = pull(l2, false); b.Close != nil || len(b.Msgs) > 0 {
		t.Fatalf("pulled %+v with message 3 unacknowledged; want nothing", b)
	}
	if err := s.Acked(3); err != nil {
		t.Fatal(err)
	}
	b = pull(l2, false)
	want := session.CloseError{Code: closecode.Normal, Reason: "bye"}
	if b.Close == nil || *b.Close != want || len(b.Msgs) > 0 || b.Gone != nil {
		t.Fatalf("pulled %+v after the last ack; want Close %+v", b, want)
	}
	if b = pull(l2, false); b.Close != nil || b.Gone != nil {
		t.Fatalf("pulled %+v; the close frame goes out only once", b)
	}
	if err := s.Close(closecode.Protocol, "again"); err != nil {
		t.Errorf("second Close = %v", err)
	}
	if isClosed(s.Done()) || s.Err() != nil {
		t.Fatalf("session ended before CloseSent: err %v", s.Err())
	}

	l2.CloseSent()
	waitClosed(t, s.Done(), "Done after CloseSent")
	var ce *session.CloseError
	if err := s.Err(); !errors.As(err, &ce) || *ce != want || !errors.Is(err, session.ErrClosed) {
		t.Fatalf("Err() = %v, want %+v", err, want)
	}
	if b = pull(l2, false); b.Gone != ce {
		t.Errorf("Pull after the end: Gone = %v, want the session.CloseError", b.Gone)
	}
	if _, err := read(t, s); err != ce {
		t.Errorf("Read after the end = %v, want %v", err, ce)
	}
}

// TestGracefulCloseWakesOnLastAck: once the last message of a closing session is
// acknowledged, the close frame is ready to pull, so the link must be woken. A
// transport waits on Wake; without it the close waits for the next heartbeat.
func TestGracefulCloseWakesOnLastAck(t *testing.T) {
	s := newSession(t, Config{})
	write(t, s, "a")
	l := attach(t, s, "websocket", 0, 0)
	checkMsgs(t, pull(l, false), 1, "a")
	if err := s.Close(closecode.Normal, ""); err != nil {
		t.Fatal(err)
	}
	if b := pull(l, false); b.Close != nil {
		t.Fatal("Close pulled before the last ack")
	}
	woken(l) // drain
	if err := s.Acked(1); err != nil {
		t.Fatal(err)
	}
	if !woken(l) {
		t.Error("Acked released the last message of a closing session without waking the link")
	}
	if b := pull(l, false); b.Close == nil {
		t.Error("Close not pulled after the last ack")
	}
}

func TestCloseNow(t *testing.T) {
	s := newSession(t, Config{})
	write(t, s, "a", "b")
	deliver(t, s, 1, "x")
	l := attach(t, s, "websocket", 0, 0)
	woken(l)
	s.CloseNow(closecode.Shutdown, "shutdown")
	waitClosed(t, s.Done(), "Done after CloseNow")
	if !woken(l) {
		t.Error("CloseNow did not wake the link")
	}
	want := session.CloseError{Code: closecode.Shutdown, Reason: "shutdown"}
	b := pull(l, false)
	if b.Close == nil || *b.Close != want || len(b.Msgs) > 0 {
		t.Fatalf("pulled %+v, want only Close %+v (queued messages dropped)", b, want)
	}
	b = pull(l, false)
	var ce *session.CloseError
	if !errors.As(b.Gone, &ce) || *ce != want || b.Close != nil {
		t.Fatalf("second pull %+v, want Gone with %+v", b, want)
	}
	if l.More() {
		t.Error("More() after CloseNow")
	}

	s.CloseNow(closecode.Protocol, "again")
	s.PeerClosed(closecode.Protocol, "late")
	if err := s.Close(closecode.Protocol, "again"); err != nil {
		t.Errorf("Close after CloseNow = %v", err)
	}
	if !errors.As(s.Err(), &ce) || *ce != want {
		t.Errorf("Err() = %v after further closes, want %+v", s.Err(), want)
	}
	if err := s.Write(context.Background(), session.Text, []byte("y")); !errors.As(err, &ce) || *ce != want {
		t.Errorf("Write after CloseNow = %v", err)
	}
	if _, _, err := s.Attach("websocket", 5, 0, true); !errors.Is(err, session.ErrClosed) {
		t.Errorf("Attach after CloseNow = %v, want session.ErrClosed", err)
	}
	if _, err := s.Deliver(context.Background(), 2, msg("y"), true); !errors.Is(err, session.ErrClosed) {
		t.Errorf("Deliver after CloseNow = %v, want session.ErrClosed", err)
	}
	if err := s.Acked(2); err != nil {
		t.Errorf("Acked after CloseNow = %v", err)
	}
	// What was received before the end can still be read.
	if got, err := read(t, s); err != nil || got != "x" {
		t.Errorf("Read = %q, %v; want x", got, err)
	}
	if _, err := read(t, s); !errors.As(err, &ce) || *ce != want {
		t.Errorf("Read at the end = %v, want %+v", err, want)
	}
}

func TestPeerClosed(t *testing.T) {
	s := newSession(t, Config{})
	deliver(t, s, 1, "a", "b")
	write(t, s, "unsent")
	l := attach(t, s, "websocket", 0, 0)
	s.PeerClosed(closecode.Expired, "expired")
	waitClosed(t, s.Done(), "Done after PeerClosed")

	want := session.CloseError{Code: closecode.Expired, Reason: "expired", Remote: true}
	b := pull(l, false)
	var ce *session.CloseError
	if !errors.As(b.Gone, &ce) || *ce != want || b.Close != nil || len(b.Msgs) > 0 {
		t.Fatalf("pulled %+v, want Gone with %+v and no close frame back", b, want)
	}
	for _, w := range []string{"a", "b"} {
		if got, err := read(t, s); err != nil || got != w {
			t.Fatalf("Read = %q, %v; want %q", got, err, w)
		}
	}
	_, err := read(t, s)
	if !errors.As(err, &ce) || *ce != want || !errors.Is(err, session.ErrClosed) {
		t.Fatalf("Read at the end = %v, want %+v", err, want)
	}
	if s.Err() != err {
		t.Errorf("Err() = %v, want %v", s.Err(), err)
	}
}

func TestPeerCloseOvertakesGracefulClose(t *testing.T) {
	tests := []struct {
		name string
		end  func(*Session)
		want session.CloseError
	}{
		{"PeerClosed", func(s *Session) { s.PeerClosed(closecode.Protocol, "peer") },
			session.CloseError{Code: closecode.Protocol, Reason: "peer", Remote: true}},
		{"CloseNow", func(s *Session) { s.CloseNow(closecode.Shutdown, "now") },
			session.CloseError{Code: closecode.Normal, Reason: "bye"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newSession(t, Config{})
			write(t, s, "pending")
			s.Close(closecode.Normal, "bye")
			tc.end(s)
			var ce *session.CloseError
			if !errors.As(s.Err(), &ce) || *ce != tc.want {
				t.Errorf("Err() = %v, want %+v", s.Err(), tc.want)
			}
		})
	}
}

func TestCloseErrorText(t *testing.T) {
	tests := []struct {
		e    session.CloseError
		want string
	}{
		{session.CloseError{Code: 1000}, "lifeline: session closed locally with code 1000 (normal)"},
		{session.CloseError{Code: 4410, Reason: "expired", Remote: true}, "lifeline: session closed by peer with code 4410 (session expired): expired"},
	}
	for _, tc := range tests {
		if got := tc.e.Error(); got != tc.want {
			t.Errorf("Error() = %q, want %q", got, tc.want)
		}
		if !errors.Is(&tc.e, session.ErrClosed) || errors.Is(&tc.e, ErrProtocol) {
			t.Errorf("%+v: errors.Is session.ErrClosed must hold, ErrProtocol must not", tc.e)
		}
		if wrapped := fmt.Errorf("read: %w", &tc.e); !errors.Is(wrapped, session.ErrClosed) {
			t.Errorf("%+v wrapped does not match session.ErrClosed", tc.e)
		}
	}
}

// TestEndWakesBlockedCalls: however the session ends, calls blocked in it return. Close
// says writes fail from now on and reads return what was received, then an error.
func TestEndWakesBlockedCalls(t *testing.T) {
	bg := context.Background()
	blockers := map[string]func(*Session) error{
		"Read": func(s *Session) error { _, _, err := s.Read(bg); return err },
		"Write": func(s *Session) error {
			_ = s.TryWriteMessage(msg("fills the queue"))
			return s.Write(bg, session.Text, []byte("waits"))
		},
		"Deliver": func(s *Session) error {
			_, _ = s.Deliver(bg, 1, msg("fills the queue"), false)
			_, err := s.Deliver(bg, 2, msg("waits"), true)
			return err
		},
	}
	ends := map[string]func(*Session){
		"Close":      func(s *Session) { s.Close(closecode.Normal, "") },
		"CloseNow":   func(s *Session) { s.CloseNow(closecode.Normal, "") },
		"PeerClosed": func(s *Session) { s.PeerClosed(closecode.Normal, "") },
	}
	for endName, end := range ends {
		for name, block := range blockers {
			if endName == "Close" && name == "Deliver" {
				continue // a closing session still takes the peer's messages
			}
			t.Run(endName+"/"+name, func(t *testing.T) {
				s := newSession(t, Config{MaxQueued: 4})
				done := async(func() error { return block(s) })
				stillBlocked(t, done, name)
				end(s)
				select {
				case err := <-done:
					if !errors.Is(err, session.ErrClosed) {
						t.Errorf("%s after %s = %v, want session.ErrClosed", name, endName, err)
					}
				case <-time.After(bound):
					t.Errorf("%s still blocked %v after %s", name, bound, endName)
				}
			})
		}
	}
}

func TestOnEnd(t *testing.T) {
	ends := map[string]func(*testing.T, *Session, *Link){
		"CloseNow":   func(_ *testing.T, s *Session, _ *Link) { s.CloseNow(closecode.Normal, "") },
		"PeerClosed": func(_ *testing.T, s *Session, _ *Link) { s.PeerClosed(closecode.Normal, "") },
		"Close": func(t *testing.T, s *Session, l *Link) {
			s.Close(closecode.Normal, "")
			if b := pull(l, false); b.Close == nil {
				t.Fatal("no close frame to pull")
			}
			l.CloseSent()
		},
	}
	for name, end := range ends {
		t.Run(name, func(t *testing.T) {
			s := newSession(t, Config{})
			l := attach(t, s, "websocket", 0, 0)
			var calls atomic.Int32
			s.OnEnd(func() { calls.Add(1) })
			s.OnEnd(func() { calls.Add(10) })
			if calls.Load() != 0 {
				t.Fatal("OnEnd ran before the end")
			}
			end(t, s, l)
			if got := calls.Load(); got != 11 {
				t.Fatalf("after the end: calls %d, want both hooks once (11)", got)
			}
			s.CloseNow(closecode.Normal, "")
			s.OnEnd(func() { calls.Add(100) }) // runs at once
			if got := calls.Load(); got != 111 {
				t.Fatalf("calls %d, want 111", got)
			}
		})
	}
}

func TestHandshakeTimeout(t *testing.T) {
	s := newSession(t, Config{HandshakeTimeout: 10 * time.Millisecond})
	waitClosed(t, s.Done(), "expiry of an unconfirmed session")
	var ce *session.CloseError
	if !errors.As(s.Err(), &ce) || ce.Code != closecode.Expired || ce.Remote {
		t.Errorf("Err() = %v, want a local close with code %d", s.Err(), closecode.Expired)
	}
	if s.Confirm() {
		t.Error("Confirm() of an ended session reported true")
	}
}

func TestConfirm(t *testing.T) {
	s := newSession(t, Config{HandshakeTimeout: 200 * time.Millisecond})
	if !s.Confirm() {
		t.Fatal("first Confirm() = false")
	}
	if s.Confirm() {
		t.Fatal("second Confirm() = true")
	}
	time.Sleep(400 * time.Millisecond) // past the handshake timeout
	if isClosed(s.Done()) {
		t.Fatalf("confirmed session expired: %v", s.Err())
	}
}

func TestResumeWindow(t *testing.T) {
	s := newSession(t, Config{ResumeWindow: 20 * time.Millisecond})
	l := attach(t, s, "websocket", 0, 0)
	s.Confirm()
	time.Sleep(100 * time.Millisecond)
	if isClosed(s.Done()) {
		t.Fatalf("session with a link attached expired: %v", s.Err())
	}
	l.Detach()
	waitClosed(t, s.Done(), "expiry after the resume window")
	var ce *session.CloseError
	if !errors.As(s.Err(), &ce) || ce.Code != closecode.Expired {
		t.Errorf("Err() = %v, want code %d", s.Err(), closecode.Expired)
	}
}

// TestConcurrentTransfer runs a writer, a carrier and a reader at once: the carrier
// pulls from one session, delivers into another and carries its acks back, with
// duplicates and resumes (see carry). The reader must see every message exactly once,
// in order, then the sender's close.
func TestConcurrentTransfer(t *testing.T) {
	const n = 10000
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cfg := Config{MaxQueued: 512, AckEvery: 8, AckDelay: time.Millisecond}
	a, b := newSession(t, cfg), newSession(t, cfg)

	var wg sync.WaitGroup
	errs := make(chan error, 3)
	fail := func(err error) {
		errs <- err
		cancel()
	}
	wg.Go(func() {
		for i := range n {
			if err := a.Write(ctx, session.Text, []byte(strconv.Itoa(i))); err != nil {
				fail(fmt.Errorf("Write %d: %w", i, err))
				return
			}
		}
		a.Close(closecode.Normal, "done")
	})
	wg.Go(func() {
		dropped, err := carry(ctx, a, b)
		if err != nil {
			fail(fmt.Errorf("carrier: %w", err))
		} else if dropped == 0 {
			fail(errors.New("carrier: b dropped no copies; dedupe was not tested"))
		}
	})
	wg.Go(func() {
		for i := range n {
			_, p, err := b.Read(ctx)
			if err != nil || string(p) != strconv.Itoa(i) {
				fail(fmt.Errorf("Read %d = %q, %v", i, p, err))
				return
			}
		}
		_, _, err := b.Read(ctx)
		var ce *session.CloseError
		if !errors.As(err, &ce) || !ce.Remote || ce.Code != closecode.Normal || ce.Reason != "done" {
			fail(fmt.Errorf("Read after the last message = %v, want the peer's close", err))
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if err := a.Err(); err == nil {
		t.Error("the sender's graceful close did not complete")
	}
}

// carry moves a's messages to b and b's acks to a, as a transport would. Now and then
// it delivers a batch twice (a retried request: b must drop the copies), or loses a
// batch with its connection and resumes on a new one from what b holds (a must
// resend it). It returns how many copies b dropped.
func carry(ctx context.Context, a, b *Session) (dropped int, err error) {
	la, _, err := a.Attach("websocket", 0, 0, false)
	if err != nil {
		return 0, err
	}
	lb, _, err := b.Attach("websocket", 0, 0, true)
	if err != nil {
		return 0, err
	}
	var ba, bb Batch
	for conn, batches := uint64(0), 0; ; {
		la.Pull(&ba, 16, 64, false)
		if ba.Gone != nil {
			return dropped, fmt.Errorf("Pull: gone: %w", ba.Gone)
		}
		if len(ba.Msgs) > 0 {
			batches++
		}
		copies := 1
		switch {
		case len(ba.Msgs) > 0 && batches%100 == 50:
			copies = 0
			conn++
			if la, _, err = a.Attach("websocket", conn, b.Received(), false); err != nil {
				return dropped, fmt.Errorf("resume: %w", err)
			}
		case len(ba.Msgs) > 0 && batches%100 == 0:
			copies = 2
		}
		for range copies {
			for i, m := range ba.Msgs {
				ok, err := b.Deliver(ctx, ba.Seq+uint64(i), m, true)
				if err != nil {
					return dropped, fmt.Errorf("Deliver %d: %w", ba.Seq+uint64(i), err)
				}
				if !ok {
					dropped++
				}
			}
		}
		lb.Pull(&bb, 0, 0, false)
		if bb.HasAck {
			if err := a.Acked(bb.Ack); err != nil {
				return dropped, fmt.Errorf("Acked(%d): %w", bb.Ack, err)
			}
		}
		if ba.Close != nil {
			la.CloseSent()
			b.PeerClosed(ba.Close.Code, ba.Close.Reason)
			return dropped, nil
		}
		if len(ba.Msgs) > 0 || bb.HasAck {
			continue
		}
		select {
		case <-la.Wake():
		case <-lb.Wake():
		case <-ctx.Done():
			return dropped, ctx.Err()
		}
	}
}
