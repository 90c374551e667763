package server_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/lifelinehq/lifeline/server"
	"github.com/lifelinehq/lifeline/session"
	"github.com/lifelinehq/lifeline/transport"
)

// TestWebSocketWriteInline: a handler's Write on a WebSocket session with nothing
// queued writes on the handler's goroutine: when Write returns, the server has
// already counted the message out. It counts the Writes that return before that.
func TestWebSocketWriteInline(t *testing.T) {
	const n = 200
	var srv *server.Server
	lag := make(chan int, 1)
	h := server.HandlerFunc(func(ctx context.Context, s *session.Session) {
		lagging := 0
		for range n {
			typ, p, err := s.Read(ctx)
			if err != nil {
				return
			}
			before := srv.Stats().MessagesOut
			if s.Write(ctx, typ, p) != nil {
				return
			}
			if srv.Stats().MessagesOut != before+1 {
				lagging++
			}
		}
		lag <- lagging
	})
	srv, base := start(t, h, nil)
	c := wsDial(t, base, transport.ResumeReq{}, nil)
	wsHello(t, c)
	wsSend(t, c, "S1")
	for i := range n {
		wsSend(t, c, "Mm"+strconv.Itoa(i))
		f := wsNext(t, c)
		if i == 0 && f.Type == transport.FrameSeq {
			f = wsNext(t, c)
		}
		if f.Type != transport.FrameText || string(f.Data) != "m"+strconv.Itoa(i) {
			t.Fatalf("echo %d: %c %q", i, f.Type, f.Data)
		}
		if (i+1)%32 == 0 {
			wsSend(t, c, "A"+strconv.Itoa(i+1))
		}
	}
	// An ack timer or a heartbeat writing at the same moment hands a Write to a
	// writer goroutine now and then (a loaded machine delays the handler past the
	// 5 ms an ack waits to ride on a reply); a writer woken per write lags on all.
	if got := <-lag; got > n/4 {
		t.Errorf("%d of %d Writes returned before their message was written", got, n)
	}
}

// TestWebSocketWritersOrder: handler goroutines writing at once, with Write and with
// TryWrite (which never writes on its caller's goroutine), while the client acks:
// every message arrives exactly once, numbered without a gap, each goroutine's in the
// order it wrote them.
func TestWebSocketWritersOrder(t *testing.T) {
	const writers, each = 4, 300
	h := server.HandlerFunc(func(ctx context.Context, s *session.Session) {
		var wg sync.WaitGroup
		for g := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range each {
					p := []byte(fmt.Sprintf("%d-%d", g, i))
					if g%2 == 1 {
						for s.TryWrite(session.Text, p) == session.ErrQueueFull {
							select {
							case <-ctx.Done():
								return
							default:
							}
						}
						continue
					}
					if s.Write(ctx, session.Text, p) != nil {
						return
					}
				}
			}()
		}
		wg.Wait()
		<-ctx.Done()
	})
	_, base := start(t, h, &server.Options{MaxQueuedBytes: 2048})
	c := wsDial(t, base, transport.ResumeReq{}, nil)
	wsHello(t, c)
	wsSend(t, c, "A0") // confirms the session
	next := make([]int, writers)
	seq := uint64(0)
	for got := 0; got < writers*each; {
		f := wsNext(t, c)
		switch f.Type {
		case transport.FrameSeq:
			if f.Num != seq+1 {
				t.Fatalf("S%d after message %d", f.Num, seq)
			}
			continue
		case transport.FrameText:
		default:
			t.Fatalf("unexpected %c frame", f.Type)
		}
		seq++
		got++
		var g, i int
		if _, err := fmt.Sscanf(string(f.Data), "%d-%d", &g, &i); err != nil || g >= writers || i != next[g] {
			t.Fatalf("message %d is %q; want writer %d's message %d next", seq, f.Data, g, next[g])
		}
		next[g]++
		if seq%16 == 0 {
			wsSend(t, c, "A"+strconv.FormatUint(seq, 10))
		}
	}
	if strings.Count(fmt.Sprint(next), fmt.Sprint(each)) != writers {
		t.Errorf("per writer: %v", next)
	}
}
