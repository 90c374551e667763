package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lifelinehq/lifeline/internal/engine"
	"github.com/lifelinehq/lifeline/server"
	"github.com/lifelinehq/lifeline/session"
)

// fastServer has short heartbeats, so dead connections show quickly.
func fastServer() *server.Options {
	return &server.Options{Heartbeat: 200 * time.Millisecond, HeartbeatTimeout: 200 * time.Millisecond}
}

// fastClient retries quickly.
func fastClient(transports ...string) *Options {
	return &Options{Transports: transports, BackoffMin: 10 * time.Millisecond, BackoffMax: 50 * time.Millisecond}
}

func hostOf(url string) string { return strings.TrimPrefix(url, "http://") }

var transports = []string{"websocket", "stream", "poll"}

// TestResumeAfterDrop cuts every connection twice in the middle of an exchange: the
// session resumes with nothing lost or repeated.
func TestResumeAfterDrop(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr, func(t *testing.T) {
			p := newProxy(t, hostOf(startServer(t, echo, fastServer())))
			c := dial(t, p.url(), fastClient(tr))
			exchange(t, c, 0, 300, func(i int) {
				if i == 100 || i == 200 {
					p.cut()
					if tr != "poll" { // a cut between two polls may go unnoticed
						waitFor(t, "a resume", func() bool { return c.Stats().Resumes >= uint64(i/100) })
					}
				}
			})
			if s := c.Stats(); s.Resets != 0 || c.Transport() != tr {
				t.Errorf("on %s, stats %+v", c.Transport(), s)
			}
		})
	}
}

// TestResumeAfterSilence black-holes the connections: the client notices the silence
// after hb+hbt and resumes on a new connection.
func TestResumeAfterSilence(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr, func(t *testing.T) {
			p := newProxy(t, hostOf(startServer(t, echo, fastServer())))
			c := dial(t, p.url(), fastClient(tr))
			exchange(t, c, 0, 50)
			p.blackhole()
			exchange(t, c, 50, 50)
			if s := c.Stats(); s.Resumes < 1 || s.Drops < 1 || s.Resets != 0 {
				t.Errorf("stats %+v", s)
			}
		})
	}
}

// TestStreamRecycle makes the server end every stream after 2 KiB: the client reopens
// it at once, many times, without loss.
func TestStreamRecycle(t *testing.T) {
	url := startServer(t, echo, &server.Options{StreamBytes: 2048})
	c := dial(t, url, fastClient("stream"))
	for i := 0; i < 300; i += 10 {
		exchange(t, c, i, 10)
	}
	if s := c.Stats(); s.Resumes < 10 || s.Drops != 0 || s.Resets != 0 { // a recycle is no drop
		t.Errorf("stats %+v", s)
	}
}

// TestReset restarts the server while the client is away: the resume is refused
// (unknown session), Read reports the reset once with the unsent messages counted,
// and the Conn goes on with a fresh session.
func TestReset(t *testing.T) {
	for _, tr := range append([]string{""}, transports...) {
		t.Run("transport="+tr, func(t *testing.T) {
			opts := fastClient()
			if tr != "" {
				opts.Transports = []string{tr}
			}
			first := startServer(t, echo, fastServer())
			second := startServer(t, echo, fastServer())
			p := newProxy(t, hostOf(first))
			c := dial(t, p.url(), opts)
			exchange(t, c, 0, 20)
			waitFor(t, "everything acknowledged", func() bool {
				g := c.current()
				return g.acked.Load() == g.written.Load()
			})
			sid := c.SessionID()
			p.setRefuse(true)
			p.cut()
			ctx := testCtx(t)
			for i := range 3 {
				if err := c.Write(ctx, session.Text, []byte{'a' + byte(i)}); err != nil {
					t.Fatal(err)
				}
			}
			p.setBackend(hostOf(second))
			p.setRefuse(false)
			_, _, err := c.Read(ctx)
			var re *ResetError
			if !errors.As(err, &re) || !errors.Is(err, ErrReset) || re.Code != 4404 || re.Unsent != 3 {
				t.Fatalf("Read: %v (%+v)", err, re)
			}
			exchange(t, c, 100, 50)
			if c.SessionID() == sid || c.SessionID() == "" {
				t.Errorf("session id %q after reset, was %q", c.SessionID(), sid)
			}
			if s := c.Stats(); s.Resets != 1 {
				t.Errorf("stats %+v", s)
			}
		})
	}
}

// TestServerCloses: the application closes the session; the client reads what was
// sent before, then the close, and does not reconnect.
func TestServerCloses(t *testing.T) {
	bye := server.HandlerFunc(func(ctx context.Context, s *session.Session) {
		if _, _, err := s.Read(ctx); err != nil {
			return
		}
		s.Write(ctx, session.Text, []byte("bye"))
		s.Close(1000, "done")
	})
	for _, tr := range transports {
		t.Run(tr, func(t *testing.T) {
			c := dial(t, startServer(t, bye, nil), fastClient(tr))
			ctx := testCtx(t)
			if err := c.Write(ctx, session.Text, []byte("hi")); err != nil {
				t.Fatal(err)
			}
			if _, p, err := c.Read(ctx); err != nil || string(p) != "bye" {
				t.Fatalf("Read: %q %v", p, err)
			}
			_, _, err := c.Read(ctx)
			var ce *session.CloseError
			if !errors.As(err, &ce) || ce.Code != 1000 || ce.Reason != "done" || !ce.Remote {
				t.Fatalf("Read: %v", err)
			}
			if err := c.Write(ctx, session.Text, []byte("late")); !errors.Is(err, session.ErrClosed) {
				t.Errorf("Write after the close: %v", err)
			}
			if s := c.Stats(); s.Resumes != 0 || s.Resets != 0 {
				t.Errorf("stats %+v", s)
			}
		})
	}
}

// TestAuth: credentials are asked for on creation and every resume, travel in the R
// frame or the Lifeline-Auth header and never in a URL; refused ones fail Dial.
func TestAuth(t *testing.T) {
	var seen atomic.Int32
	opts := fastServer()
	opts.Authenticate = func(r *http.Request, creds string) (any, error) {
		if r.URL.RawQuery != "" || (creds != "" && strings.Contains(r.URL.Path, creds)) {
			return nil, errors.New("credentials in the URL")
		}
		if creds != "open sesame" {
			return nil, errors.New("wrong credentials")
		}
		seen.Add(1)
		return "user", nil
	}
	p := newProxy(t, hostOf(startServer(t, echo, opts)))
	for _, tr := range transports {
		t.Run(tr, func(t *testing.T) {
			var asked atomic.Int32
			o := fastClient(tr)
			o.Auth = func(ctx context.Context) (string, error) {
				asked.Add(1)
				return "open sesame", nil
			}
			seen.Store(0)
			c := dial(t, p.url(), o)
			exchange(t, c, 0, 20, func(i int) {
				if i == 10 {
					p.cut()
				}
			})
			if tr == "poll" {
				// A cut poll or send is retried within its run, which is not a resume
				// and is not authenticated again; a cut while the poll is held ends
				// the run, and the next run resumes. Cut until one lands on a held poll
				// (a single cut can fall between two polls).
				for i := 0; i < 50 && c.Stats().Resumes == 0; i++ {
					time.Sleep(50 * time.Millisecond)
					p.cut()
				}
			}
			waitFor(t, "a resume", func() bool { return c.Stats().Resumes >= 1 })
			if asked.Load() < 2 || seen.Load() < 2 {
				t.Errorf("asked %d, accepted %d, stats %+v", asked.Load(), seen.Load(), c.Stats())
			}

			o.Auth = func(ctx context.Context) (string, error) { return "wrong", nil }
			o.Logger = quiet
			_, err := Dial(testCtx(t), p.url(), o)
			var ce *session.CloseError
			if !errors.As(err, &ce) || ce.Code != 4401 {
				t.Errorf("Dial with wrong credentials: %v", err)
			}
		})
	}
}

// waitFor polls cond for up to 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestTooLarge: a message over the server's limit fails Write; one over the client's
// limit from the server stops the session with 4413, whichever layer sees it first.
func TestTooLarge(t *testing.T) {
	big := server.HandlerFunc(func(ctx context.Context, s *session.Session) {
		_, p, err := s.Read(ctx)
		if err != nil {
			return
		}
		s.Write(ctx, session.Binary, make([]byte, len(p)*100))
		<-ctx.Done()
	})
	url := startServer(t, big, &server.Options{MaxMessageBytes: 100000})
	for _, tr := range transports {
		for _, size := range []int{15, 500} { // 1500 bytes, then 50000: past the read limits too
			t.Run(fmt.Sprintf("%s/%d", tr, size*100), func(t *testing.T) {
				o := fastClient(tr)
				o.MaxMessageBytes = 1000
				c := dial(t, url, o)
				ctx := testCtx(t)
				if err := c.Write(ctx, session.Text, make([]byte, 200000)); !errors.Is(err, session.ErrTooLarge) {
					t.Errorf("Write over the limit: %v", err)
				}
				if err := c.Write(ctx, session.Text, []byte{0xff}); !errors.Is(err, engine.ErrProtocol) {
					t.Errorf("Write of text that is not UTF-8: %v", err)
				}
				if err := c.Write(ctx, session.Text, make([]byte, size)); err != nil {
					t.Fatal(err)
				}
				_, _, err := c.Read(ctx)
				var ce *session.CloseError
				if !errors.As(err, &ce) || ce.Code != 4413 {
					t.Errorf("Read: %v", err)
				}
			})
		}
	}
}

// TestCloseNowWhileReconnecting: CloseNow ends a Conn that is retrying with backoff
// at once, with no goroutine left (TestMain checks).
func TestCloseNowWhileReconnecting(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr, func(t *testing.T) {
			p := newProxy(t, hostOf(startServer(t, echo, fastServer())))
			o := fastClient(tr)
			o.BackoffMin, o.BackoffMax = time.Second, time.Second
			c := dial(t, p.url(), o)
			exchange(t, c, 0, 5)
			p.setRefuse(true)
			p.cut()
			time.Sleep(50 * time.Millisecond)
			t0 := time.Now()
			c.CloseNow()
			if d := time.Since(t0); d > 500*time.Millisecond {
				t.Errorf("CloseNow took %v", d)
			}
			_, _, err := c.Read(testCtx(t))
			var ce *session.CloseError
			if !errors.As(err, &ce) || ce.Remote {
				t.Errorf("Read after CloseNow: %v", err)
			}
		})
	}
}

// TestDialFails: with nothing to talk to (a refused connection, a server that is not
// Lifeline), Dial fails promptly and leaves nothing running; through a network that
// cuts every connection it keeps trying until its context ends.
func TestDialFails(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()
	if _, err := Dial(testCtx(t), closed, &Options{Logger: quiet}); err == nil {
		t.Fatal("Dial of a closed port succeeded")
	}
	p := newProxy(t, "127.0.0.1:1")
	p.setRefuse(true)
	cut, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := Dial(cut, p.url(), &Options{Logger: quiet}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Dial through a network that cuts every connection: %v", err)
	}
	notFound := startServer(t, echo, nil, func(http.Handler) http.Handler { return http.NotFoundHandler() })
	if _, err := Dial(testCtx(t), notFound, &Options{Logger: quiet}); err == nil {
		t.Fatal("Dial of a 404 succeeded")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	hang := startServer(t, echo, nil, func(http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	})
	if _, err := Dial(ctx, hang, &Options{Logger: quiet}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Dial of a hung server: %v", err)
	}
}

// TestWriteBlocks: with the server's application not reading, the client's replay
// buffer fills and Write blocks until its context ends.
func TestWriteBlocks(t *testing.T) {
	stuck := server.HandlerFunc(func(ctx context.Context, s *session.Session) { <-ctx.Done() })
	url := startServer(t, stuck, &server.Options{MaxQueuedBytes: 4096})
	for _, tr := range transports {
		t.Run(tr, func(t *testing.T) {
			o := fastClient(tr)
			o.MaxQueuedBytes = 4096
			c := dial(t, url, o)
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			var err error
			for i := 0; err == nil && i < 1000; i++ {
				err = c.Write(ctx, session.Binary, make([]byte, 1000))
			}
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("Write: %v", err)
			}
		})
	}
}
