package client

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lifelinehq/lifeline/server"
	"github.com/lifelinehq/lifeline/session"
)

// asker answers requests with "re:" and the request, except "hang" (answered when the
// session ends) and "fail"; for each message "ask <p>" it asks the client p and writes
// back the reply, or "error: " and the error.
var asker = server.HandlerFunc(func(ctx context.Context, s *session.Session) {
	s.OnRequest(func(ctx context.Context, req []byte) ([]byte, error) {
		switch string(req) {
		case "hang":
			<-ctx.Done()
			return nil, ctx.Err()
		case "fail":
			return nil, errors.New("as asked")
		}
		return append([]byte("re:"), req...), nil
	})
	for {
		_, p, err := s.Read(ctx)
		if err != nil {
			return
		}
		q, ok := strings.CutPrefix(string(p), "ask ")
		if !ok {
			continue
		}
		go func() {
			reply, err := s.Request(ctx, []byte(q))
			if err != nil {
				reply = []byte("error: " + err.Error())
			}
			s.Write(ctx, session.Text, reply)
		}()
	}
})

func TestRequests(t *testing.T) {
	for _, tr := range append([]string{""}, transports...) {
		t.Run("transport="+tr, func(t *testing.T) {
			opts := fastClient()
			if tr != "" {
				opts.Transports = []string{tr}
			}
			opts.OnRequest = func(_ context.Context, req []byte) ([]byte, error) {
				if string(req) == "fail" {
					return nil, errors.New("client says no")
				}
				return []byte(strings.ToUpper(string(req))), nil
			}
			c := dial(t, startServer(t, asker, fastServer()), opts)
			ctx := testCtx(t)
			for i, p := range []string{"hello", "", "two\n lines", `{"a":[1,2]}`, "世界"} {
				if r, err := c.Request(ctx, []byte(p)); err != nil || string(r) != "re:"+p {
					t.Errorf("request %d %q = %q, %v", i, p, r, err)
				}
			}
			_, err := c.Request(ctx, []byte("fail"))
			var re *session.RequestError
			if !errors.As(err, &re) || re.Message != "as asked" {
				t.Errorf("failing request = %v", err)
			}
			if _, err := c.Request(ctx, []byte{0xff}); !errors.Is(err, session.ErrNotUTF8) {
				t.Errorf("request not UTF-8 = %v", err)
			}
			for _, tc := range []struct{ ask, want string }{
				{"ask ping", "PING"},
				{"ask fail", "error: lifeline: request failed: client says no"},
			} {
				if err := c.Write(ctx, session.Text, []byte(tc.ask)); err != nil {
					t.Fatal(err)
				}
				if _, p, err := c.Read(ctx); err != nil || string(p) != tc.want {
					t.Errorf("%q: read %q, %v; want %q", tc.ask, p, err, tc.want)
				}
			}
		})
	}
}

// TestRequestNoHandler: a client with no answerer answers the server's request with
// "no request handler"; one set later with Conn.OnRequest answers the next.
func TestRequestNoHandler(t *testing.T) {
	c := dial(t, startServer(t, asker, fastServer()), fastClient())
	ctx := testCtx(t)
	c.Write(ctx, session.Text, []byte("ask anyone?"))
	if _, p, err := c.Read(ctx); err != nil || string(p) != "error: lifeline: request failed: no request handler" {
		t.Fatalf("read %q, %v", p, err)
	}
	c.OnRequest(func(_ context.Context, req []byte) ([]byte, error) { return []byte("me"), nil })
	c.Write(ctx, session.Text, []byte("ask anyone now?"))
	if _, p, err := c.Read(ctx); err != nil || string(p) != "me" {
		t.Fatalf("read %q, %v", p, err)
	}
}

// TestRequestPending: a pending request fails with its ctx's end, and with the
// session's end when the Conn closes (Close and CloseNow).
func TestRequestPending(t *testing.T) {
	url := startServer(t, asker, fastServer())
	c := dial(t, url, fastClient())
	ctx, cancel := context.WithTimeout(testCtx(t), 100*time.Millisecond)
	defer cancel()
	if _, err := c.Request(ctx, []byte("hang")); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("request past its deadline = %v", err)
	}
	if r, err := c.Request(testCtx(t), []byte("next")); err != nil || string(r) != "re:next" {
		t.Errorf("request after a timeout = %q, %v", r, err)
	}
	for _, closeNow := range []bool{false, true} {
		c := dial(t, url, fastClient())
		var wg sync.WaitGroup
		errs := make([]error, 5)
		for i := range errs {
			wg.Go(func() { _, errs[i] = c.Request(testCtx(t), []byte("hang")) })
		}
		waitFor(t, "the requests acknowledged", func() bool {
			g := c.current()
			return g.s.Unacked() == 0 && g.acked.Load() == 5
		})
		if closeNow {
			c.CloseNow()
		} else {
			c.Close(1000, "bye")
		}
		wg.Wait()
		for i, err := range errs {
			var ce *session.CloseError
			if !errors.As(err, &ce) || ce.Code != 1000 {
				t.Errorf("CloseNow %v: request %d = %v, want the CloseError", closeNow, i, err)
			}
		}
	}
}

// TestRequestReset: the server loses the session. A request that went out on it
// fails with the ResetError; requests made while the server could not be reached,
// never sent, go on the fresh session and are answered there. The ResetError counts
// the messages lost, not the requests.
func TestRequestReset(t *testing.T) {
	for _, tr := range transports {
		t.Run("transport="+tr, func(t *testing.T) {
			first := startServer(t, asker, fastServer())
			second := startServer(t, asker, fastServer())
			p := newProxy(t, hostOf(first))
			c := dial(t, p.url(), fastClient(tr))
			ctx := testCtx(t)
			sent := make(chan error, 1)
			go func() { _, err := c.Request(ctx, []byte("hang")); sent <- err }()
			waitFor(t, "the request acknowledged", func() bool {
				g := c.current()
				return g.acked.Load() == 1 && g.s.Unacked() == 0
			})
			p.setRefuse(true)
			p.cut()
			// No connection for 100 ms: one under way at the cut may still have got
			// through (it is cut again), and a request must not go out on it.
			connects := c.Stats().Connects
			for quiet := time.Now(); time.Since(quiet) < 100*time.Millisecond; time.Sleep(time.Millisecond) {
				if ctx.Err() != nil {
					t.Fatal("the session kept a connection through the proxy")
				}
				if c.current().s.Attached() || c.Stats().Connects != connects {
					p.cut()
					connects, quiet = c.Stats().Connects, time.Now()
				}
			}
			type result struct {
				reply string
				err   error
			}
			later := make(chan result, 3)
			for i := range 3 {
				go func() {
					r, err := c.Request(ctx, []byte("q"+strconv.Itoa(i)))
					later <- result{string(r), err}
				}()
			}
			waitFor(t, "three requests queued", func() bool { return c.current().s.Unacked() == 3 })
			for _, m := range []string{"lost", "too"} {
				if err := c.Write(ctx, session.Text, []byte(m)); err != nil {
					t.Fatal(err)
				}
			}
			p.setBackend(hostOf(second))
			p.setRefuse(false)
			err := <-sent
			var re *ResetError
			if !errors.As(err, &re) || !errors.Is(err, ErrReset) || re.Code != 4404 || re.Unsent != 2 {
				t.Fatalf("the sent request = %v (%+v), want the ResetError with 2 unsent", err, re)
			}
			got := map[string]bool{}
			for range 3 {
				r := <-later
				if r.err != nil {
					t.Fatalf("a request never sent before the reset = %v", r.err)
				}
				got[r.reply] = true
			}
			if !got["re:q0"] || !got["re:q1"] || !got["re:q2"] {
				t.Errorf("replies %v", got)
			}
			if _, _, err := c.Read(ctx); !errors.Is(err, ErrReset) {
				t.Errorf("Read = %v, want the reset", err)
			}
		})
	}
}
