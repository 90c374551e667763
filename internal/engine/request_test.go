package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lifelinehq/lifeline/closecode"
	"github.com/lifelinehq/lifeline/session"
	"github.com/lifelinehq/lifeline/transport"
)

// pipe carries frames both ways between a and b, as HTTP bodies (AppendBatch, then
// transport.Reader and Inbound), until ctx ends or a link goes. It returns at once;
// the test's cleanup stops it.
func pipe(t *testing.T, a, b *Session) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	la, lb := attach(t, a, "stream", 0, 0), attach(t, b, "stream", 0, 0)
	for _, d := range [][2]*Link{{la, lb}, {lb, la}} {
		from, to := d[0], d[1]
		wg.Go(func() {
			in := NewInbound(to.Session())
			var bt Batch
			var body, scratch []byte
			for {
				from.Pull(&bt, 100, 1<<20, false)
				if bt.Gone != nil || bt.Close != nil {
					return
				}
				if !bt.Empty() {
					next := uint64(0)
					body, scratch = AppendBatch(body[:0], scratch, &bt, &next)
					rd := transport.NewReader(bytes.NewReader(body), 1<<20)
					in.Body()
					for {
						f, err := rd.Next()
						if err == io.EOF {
							break
						}
						if err == nil {
							if f.Type == transport.FrameText {
								f.Data = bytes.Clone(f.Data)
							}
							_, err = in.Frame(ctx, f)
						}
						if err != nil {
							if ctx.Err() == nil {
								t.Errorf("carrying %q: %v", body, err)
							}
							return
						}
					}
					continue
				}
				select {
				case <-from.Wake():
				case <-ctx.Done():
					return
				}
			}
		})
	}
}

// fastAcks acks every message at once, so that tests do not wait for AckDelay.
var fastAcks = Config{AckEvery: 1, AckDelay: time.Millisecond}

func request(s *Session, p string, d time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	r, err := s.Request(ctx, []byte(p))
	return string(r), err
}

func TestRequestBothWays(t *testing.T) {
	a, b := newSession(t, fastAcks), newSession(t, fastAcks)
	a.OnRequest(func(_ context.Context, req []byte) ([]byte, error) {
		return append([]byte("a:"), req...), nil
	})
	b.OnRequest(func(_ context.Context, req []byte) ([]byte, error) {
		return []byte(strings.ToUpper(string(req))), nil
	})
	pipe(t, a, b)
	write(t, a, "before")
	for i, p := range []string{"hello", "", "two\n lines\r", `{"x":[1,2]}`, "世界 😀"} {
		if got, err := request(b, p, bound); err != nil || got != "a:"+p {
			t.Errorf("b's request %d %q = %q, %v", i, p, got, err)
		}
		if got, err := request(a, p, bound); err != nil || got != strings.ToUpper(p) {
			t.Errorf("a's request %d %q = %q, %v", i, p, got, err)
		}
	}
	write(t, a, "after")
	// Messages keep their order around requests, and Read never sees a request frame.
	for _, want := range []string{"before", "after"} {
		if got, err := read(t, b); got != want || err != nil {
			t.Errorf("b read %q, %v; want %q", got, err, want)
		}
	}
}

func TestRequestConcurrent(t *testing.T) {
	a, b := newSession(t, Config{AckEvery: 4, AckDelay: time.Millisecond, MaxQueued: 2048}), newSession(t, fastAcks)
	b.OnRequest(func(_ context.Context, req []byte) ([]byte, error) { return req, nil })
	pipe(t, a, b)
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Go(func() {
			p := strconv.Itoa(i)
			if got, err := request(a, p, 10*time.Second); err != nil || got != p {
				t.Errorf("request %s = %q, %v", p, got, err)
			}
		})
	}
	wg.Wait()
}

func TestRequestNoHandler(t *testing.T) {
	a, b := newSession(t, fastAcks), newSession(t, fastAcks) // b holds no requests
	pipe(t, a, b)
	_, err := request(a, "anyone?", bound)
	var re *session.RequestError
	if !errors.As(err, &re) || re.Message != NoHandler {
		t.Fatalf("request to a session with no answerer = %v, want a RequestError %q", err, NoHandler)
	}
}

func TestRequestError(t *testing.T) {
	a, b := newSession(t, fastAcks), newSession(t, fastAcks)
	long := strings.Repeat("é", 600) // 1200 bytes
	b.OnRequest(func(_ context.Context, req []byte) ([]byte, error) {
		switch string(req) {
		case "long":
			return nil, errors.New(long)
		case "binary":
			return []byte{0xff}, nil
		case "big":
			return bytes.Repeat([]byte("x"), 70000), nil
		}
		return nil, fmt.Errorf("no %s here", req)
	})
	pipe(t, a, b)
	for _, tc := range []struct{ req, want string }{
		{"cheese", "no cheese here"},
		{"long", long[:1024]},
		{"binary", "reply is not UTF-8"},
		{"big", "reply over the size limit"},
	} {
		_, err := request(a, tc.req, bound)
		var re *session.RequestError
		if !errors.As(err, &re) || re.Message != tc.want {
			t.Errorf("request %q = %v, want a RequestError %.40q", tc.req, err, tc.want)
		}
	}
}

func TestRequestRefusedLocally(t *testing.T) {
	a := newSession(t, Config{MaxMessage: 16})
	if _, err := a.Request(context.Background(), []byte{'x', 0xff}); !errors.Is(err, session.ErrNotUTF8) {
		t.Errorf("request not UTF-8 = %v, want ErrNotUTF8", err)
	}
	// The frame's whole text counts: "Q1 " and 13 bytes fit 16, 14 do not.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if _, err := a.Request(ctx, bytes.Repeat([]byte("x"), 13)); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("request of 16 bytes = %v, want it queued (then the deadline)", err)
	}
	if _, err := a.Request(context.Background(), bytes.Repeat([]byte("x"), 14)); !errors.Is(err, session.ErrTooLarge) {
		t.Errorf("request of 17 bytes = %v, want ErrTooLarge", err)
	}
}

// TestRequestTimeout: a request whose ctx ends fails with ctx.Err(); the reply that
// comes later is ignored, and the next request works.
func TestRequestTimeout(t *testing.T) {
	a, b := newSession(t, fastAcks), newSession(t, fastAcks)
	release := make(chan struct{})
	b.OnRequest(func(ctx context.Context, req []byte) ([]byte, error) {
		if string(req) == "slow" {
			<-release
		}
		return req, nil
	})
	pipe(t, a, b)
	if _, err := request(a, "slow", 50*time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("slow request = %v, want DeadlineExceeded", err)
	}
	close(release)
	if got, err := request(a, "next", bound); err != nil || got != "next" {
		t.Fatalf("request after a timeout = %q, %v", got, err)
	}
	a.mu.Lock()
	n := len(a.pending)
	a.mu.Unlock()
	if n != 0 {
		t.Errorf("%d requests still pending", n)
	}
}

// TestRequestSessionEnd: pending requests fail with the session's end: a request
// that went out gets the *CloseError, one never pulled a *NotSentError wrapping it.
// Answerers' ctx ends with the session.
func TestRequestSessionEnd(t *testing.T) {
	a := newSession(t, Config{})
	l := attach(t, a, "websocket", 0, 0)
	sent := async(func() error { _, err := a.Request(context.Background(), []byte("one")); return err })
	waitFor(t, func() bool { return a.Unacked() == 1 }, "the first request queued")
	pull(l, false)
	unsent := async(func() error { _, err := a.Request(context.Background(), []byte("two")); return err })
	waitFor(t, func() bool { return a.Unacked() == 2 }, "the second request queued")
	stillBlocked(t, sent, "a pending request")
	write(t, a, "a message")
	if n, m := a.Unacked(), a.UnackedMessages(); n != 3 || m != 1 {
		t.Errorf("Unacked, UnackedMessages = %d, %d; want 3, 1 (requests are no messages)", n, m)
	}
	a.CloseNow(closecode.Shutdown, "bye")
	if m := a.UnackedMessages(); m != 1 {
		t.Errorf("UnackedMessages after the end = %d, want the 1 lost", m)
	}
	err := returned(t, sent, "the sent request")
	var ce *session.CloseError
	var ns *NotSentError
	if !errors.As(err, &ce) || ce.Code != closecode.Shutdown || errors.As(err, &ns) {
		t.Errorf("sent request = %v, want the CloseError", err)
	}
	err = returned(t, unsent, "the unsent request")
	if !errors.As(err, &ns) || !errors.As(err, &ce) || ce.Code != closecode.Shutdown {
		t.Errorf("unsent request = %v, want a NotSentError with the CloseError", err)
	}
	if _, err := a.Request(context.Background(), nil); !errors.As(err, &ce) {
		t.Errorf("request after the end = %v, want the CloseError", err)
	}

	b := newSession(t, Config{})
	ended, called := make(chan struct{}), make(chan struct{})
	b.OnRequest(func(ctx context.Context, _ []byte) ([]byte, error) {
		close(called)
		<-ctx.Done()
		close(ended)
		return nil, ctx.Err()
	})
	if _, err := b.Deliver(context.Background(), 1, Message{Type: typeCall, Data: []byte("Q1 wait")}, false); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, called, "the answerer's call")
	b.CloseNow(closecode.Normal, "")
	waitClosed(t, ended, "the answerer's ctx ending with the session")
	b.OnRequest(func(ctx context.Context, _ []byte) ([]byte, error) { return nil, nil }) // after the end: no effect
}

// TestRequestHeld: with HoldRequests, requests wait for OnRequest, in order, counted
// in the inbound queue (so that its limit holds them back).
func TestRequestHeld(t *testing.T) {
	b := newSession(t, Config{HoldRequests: true, MaxQueued: 64})
	q := func(id int, p string) Message {
		return Message{Type: typeCall, Data: transport.AppendCall(nil, 'Q', uint64(id), []byte(p))}
	}
	for i := 1; i <= 4; i++ {
		if ok, err := b.Deliver(context.Background(), uint64(i), q(i, strings.Repeat("x", 10)), false); !ok || err != nil {
			t.Fatalf("Deliver request %d = %v, %v", i, ok, err)
		}
	}
	if _, in := b.Queued(); in != 4*13 {
		t.Fatalf("inbound bytes with 4 held requests = %d, want %d", in, 4*13)
	}
	if _, err := b.Deliver(context.Background(), 5, q(5, strings.Repeat("x", 10)), false); !errors.Is(err, session.ErrQueueFull) {
		t.Fatalf("a fifth request = %v, want ErrQueueFull (held requests count in the queue)", err)
	}
	l := attach(t, b, "websocket", 0, 0)
	var order []string
	var mu sync.Mutex
	b.OnRequest(func(_ context.Context, req []byte) ([]byte, error) {
		mu.Lock()
		order = append(order, string(req))
		mu.Unlock()
		return nil, nil
	})
	waitFor(t, func() bool { return b.Unacked() == 4 }, "four replies queued")
	var got []string
	for _, m := range pull(l, false).Msgs {
		got = append(got, string(m.Data))
	}
	slices.Sort(got)
	if strings.Join(got, "|") != "Y1 |Y2 |Y3 |Y4 " {
		t.Errorf("replies %q", got)
	}
	if _, in := b.Queued(); in != 0 {
		t.Errorf("inbound bytes once answered = %d", in)
	}
}

// TestRequestAnswerersBounded: at most 16 answerers run at once; the rest wait and run
// in order as answerers finish.
func TestRequestAnswerersBounded(t *testing.T) {
	b := newSession(t, Config{})
	var running, most atomic.Int32
	release := make(chan struct{})
	var started sync.WaitGroup
	started.Add(maxAnswering)
	var answered atomic.Int32
	b.OnRequest(func(_ context.Context, req []byte) ([]byte, error) {
		n := running.Add(1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		if answered.Add(1) <= maxAnswering {
			started.Done()
		}
		<-release
		running.Add(-1)
		return req, nil
	})
	for i := 1; i <= 40; i++ {
		if _, err := b.Deliver(context.Background(), uint64(i), Message{Type: typeCall, Data: transport.AppendCall(nil, 'Q', uint64(i), nil)}, false); err != nil {
			t.Fatal(err)
		}
	}
	started.Wait()
	time.Sleep(20 * time.Millisecond) // a 17th would start now
	if n := running.Load(); n != maxAnswering {
		t.Errorf("%d answerers running, want %d", n, maxAnswering)
	}
	close(release)
	waitFor(t, func() bool { return b.Unacked() == 40 }, "40 replies")
	if m := most.Load(); m != maxAnswering {
		t.Errorf("at most %d answerers ran at once, want %d", m, maxAnswering)
	}
	waitFor(t, func() bool { b.mu.Lock(); defer b.mu.Unlock(); return b.answering == 0 }, "the answerers ending")
}

// TestRequestProtocolErrors: a request id not above the previous one, and a reply to a
// request never sent, are protocol errors; a reply to a request no longer pending is
// ignored; a duplicate frame (a resend) is dropped before any of these checks.
func TestRequestProtocolErrors(t *testing.T) {
	ctx := context.Background()
	frame := func(s string) Message { return Message{Type: typeCall, Data: []byte(s)} }
	b := newSession(t, Config{})
	b.OnRequest(func(_ context.Context, req []byte) ([]byte, error) { return req, nil })
	for i, f := range []string{"Q1 a", "Q3 b"} { // ids may skip
		if ok, err := b.Deliver(ctx, uint64(i+1), frame(f), false); !ok || err != nil {
			t.Fatalf("Deliver %q = %v, %v", f, ok, err)
		}
	}
	if ok, err := b.Deliver(ctx, 2, frame("Q3 b"), false); ok || err != nil {
		t.Errorf("a duplicate = %v, %v; want it dropped", ok, err)
	}
	var pe *ProtocolError
	for _, f := range []string{"Q3 again", "Q2 back", "Y1 never asked", "X1 never asked", "M", "Q1"} {
		ok, err := b.Deliver(ctx, 3, frame(f), false)
		if ok || !errors.As(err, &pe) {
			t.Errorf("Deliver %q = %v, %v; want a ProtocolError", f, ok, err)
		}
	}
	// Through Inbound the error stays the ProtocolError (its reason names the cause).
	in := NewInbound(b)
	in.Frame(ctx, transport.Frame{Type: 'S', Num: 3})
	_, err := in.Frame(ctx, transport.Frame{Type: 'Y', Num: 5, Data: []byte("x")})
	if !errors.As(err, &pe) || !strings.Contains(pe.Reason, "never sent") {
		t.Errorf("Inbound of a reply never asked = %v", err)
	}

	a := newSession(t, Config{})
	attach(t, a, "websocket", 0, 0)
	if _, err := request(a, "gives up", 10*time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatal(err)
	}
	if ok, err := a.Deliver(ctx, 1, frame("Y1 late"), false); !ok || err != nil {
		t.Errorf("a late reply = %v, %v; want it accepted and ignored", ok, err)
	}
	if ok, err := a.Deliver(ctx, 2, frame("X1 late again"), false); !ok || err != nil {
		t.Errorf("a second late answer = %v, %v; want it accepted and ignored", ok, err)
	}
	if got, _ := a.Received(), 0; got != 2 {
		t.Errorf("Received = %d, want 2", got)
	}
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(bound)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s did not happen within %v", what, bound)
		}
		time.Sleep(time.Millisecond)
	}
}
