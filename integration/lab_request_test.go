//go:build integration

package integration

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/lifelinehq/lifeline/integration/faultproxy"
	"github.com/lifelinehq/lifeline/server"
	"github.com/lifelinehq/lifeline/session"
)

// labRequests is how many requests each side makes in TestLabRequests.
const labRequests = 100

// TestLabRequests: requests both ways in Chromium through the fault proxy's random cuts,
// on each transport forced: the page asks the server 100 requests while the server asks
// the page 100. Each is answered exactly once: the server counts its answers per
// request, the page counts its answers per request and checks every reply.
// (TestLabRequests/<transport>; Chromium only.)
func TestLabRequests(t *testing.T) {
	e := lab(t)
	for i, tr := range []string{"websocket", "stream", "poll"} {
		t.Run(tr, func(t *testing.T) { labRequestRun(t, e, tr, cutSeed+int64(i)) })
	}
}

func labRequestRun(t *testing.T, e *labEnv, transport string, seed int64) {
	var (
		mu      sync.Mutex
		answers = map[string]int{} // the page's requests: times the server answered each
	)
	h := server.HandlerFunc(func(ctx context.Context, s *session.Session) {
		s.OnRequest(func(ctx context.Context, req []byte) ([]byte, error) {
			mu.Lock()
			answers[string(req)]++
			mu.Unlock()
			return append([]byte("re:"), req...), nil
		})
		for {
			typ, p, err := s.Read(ctx)
			if err != nil {
				return
			}
			if n, ok := strings.CutPrefix(string(p), "ask "); ok && typ == session.Text {
				go labAsk(ctx, s, n)
			}
		}
	})
	srv := server.New(h, nil)
	r := chi.NewRouter()
	r.Mount("/lifeline", srv)
	r.Get("/", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte("<!doctype html><title>requests</title>"))
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: r, ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		hs.Shutdown(ctx)
	})
	px, err := faultproxy.New(ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(px.Close)
	// Once the page has loaded the client (cut calls for it), the proxy cuts each new
	// connection after a random lifetime and, besides, every connection now and then,
	// every other time with the network down for a moment, so that the resume itself
	// fails first (a browser retries a request on a fresh connection when a kept-alive
	// one was cut idle, so the cuts alone may go unseen on poll).
	stop := make(chan struct{})
	cutter := make(chan struct{})
	cut := func() {
		defer close(cutter)
		px.CutAfter(seed, 300*time.Millisecond, 1500*time.Millisecond)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(700 * time.Millisecond):
			}
			px.SetDown(i%2 == 1)
			px.CutAll()
			time.Sleep(100 * time.Millisecond)
			px.SetDown(false)
		}
	}
	base := "http://" + px.Addr()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var res struct {
		Answered  map[string]int
		Replies   int
		Bad       []string
		Asked     string
		Events    []string
		Transport string
	}
	var cutting atomic.Bool // (onEvent runs on the driver's goroutine)
	err = e.drivers["chromium"].callEvents(ctx, map[string]any{"op": "requests", "page": base + "/", "mount": base + "/lifeline",
		"transport": transport, "n": labRequests, "paceMs": 20, "timeoutMs": 60000}, &res, func(ev string) {
		if ev == "loaded" && cutting.CompareAndSwap(false, true) {
			go cut()
		}
	})
	close(stop)
	if cutting.Load() {
		<-cutter
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("seed %d: %d cuts; page events %v", seed, px.Cuts(), res.Events)
	if res.Asked != fmt.Sprintf("asked %d: ok", labRequests) {
		t.Errorf("the server's requests: %q", res.Asked)
	}
	if res.Replies != labRequests || len(res.Bad) > 0 {
		t.Errorf("the page got %d good replies of %d; wrong or failed: %v", res.Replies-len(res.Bad), labRequests, res.Bad)
	}
	mu.Lock()
	defer mu.Unlock()
	for i := 1; i <= labRequests; i++ {
		if n := answers["c"+strconv.Itoa(i)]; n != 1 {
			t.Errorf("the server answered the page's request c%d %d times", i, n)
		}
		if n := res.Answered["s"+strconv.Itoa(i)]; n != 1 {
			t.Errorf("the page answered the server's request s%d %d times", i, n)
		}
	}
	if len(answers) != labRequests || len(res.Answered) != labRequests {
		t.Errorf("%d requests answered by the server, %d by the page; want %d each", len(answers), len(res.Answered), labRequests)
	}
	if slices.Contains(res.Events, "reset") || slices.Contains(res.Events, "close") || !slices.Contains(res.Events, "reconnected") {
		t.Errorf("page events %v: want reconnections, no reset or close", res.Events)
	}
	if res.Transport != transport {
		t.Errorf("the page ended on %q, want %q", res.Transport, transport)
	}
	if px.Cuts() < 3 {
		t.Errorf("only %d cuts", px.Cuts())
	}
}

// labAsk asks the page the requests of n ("s1".."sN", 8 at a time, one started every
// 20 ms), checks each reply, and writes "asked N: ok" or what went wrong.
func labAsk(ctx context.Context, s *session.Session, n string) {
	count, _ := strconv.Atoi(n)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	slots := make(chan struct{}, 8)
	for i := 1; i <= count; i++ {
		select {
		case <-ctx.Done():
			return
		case <-time.After(20 * time.Millisecond):
		}
		slots <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-slots; wg.Done() }()
			req := "s" + strconv.Itoa(i)
			rctx, cancel := context.WithTimeout(ctx, time.Minute)
			defer cancel()
			reply, err := s.Request(rctx, []byte(req))
			if err == nil && string(reply) != "re:"+req {
				err = fmt.Errorf("reply %q", reply)
			}
			if err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("%s: %w", req, err))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	outcome := "ok"
	if err := errors.Join(errs...); err != nil {
		outcome = err.Error()
	}
	s.Write(ctx, session.Text, []byte("asked "+n+": "+outcome))
}
