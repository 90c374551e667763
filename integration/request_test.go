package integration

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lifelinehq/lifeline/client"
	"github.com/lifelinehq/lifeline/integration/faultproxy"
	"github.com/lifelinehq/lifeline/server"
	"github.com/lifelinehq/lifeline/session"
)

const (
	requests    = 300 // each way
	requesters  = 8   // concurrent requests on each side
	requestCuts = 24  // cuts the requests are spread over, at least
)

// answers counts how often an answerer ran for each request payload.
type answers struct {
	mu sync.Mutex
	n  map[string]int
}

func (a *answers) fn(_ context.Context, req []byte) ([]byte, error) {
	a.mu.Lock()
	a.n[string(req)]++
	a.mu.Unlock()
	return append([]byte("re:"), req...), nil
}

// check verifies that each of the requests of side was answered exactly once.
func (a *answers) check(side string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	for i := 1; i <= requests; i++ {
		if n := a.n[request(side, i)]; n != 1 {
			return fmt.Errorf("request %s answered %d times", request(side, i), n)
		}
	}
	if len(a.n) != requests {
		return fmt.Errorf("%d distinct requests answered, want %d", len(a.n), requests)
	}
	return nil
}

// request is the payload of request i of side: text of varying length, some of it
// JSON-like, some with line breaks.
func request(side string, i int) string {
	return side + strconv.Itoa(i) + ` {"pad":"` + strings.Repeat("x", i%61) + `"}` + strings.Repeat("\n", i%3)
}

// ask makes the requests of side through do, requesters at a time, and checks each
// reply. Request i waits for i*requestCuts/requests cuts, so the cuts are spread
// over the exchange however fast it runs.
func ask(ctx context.Context, px *faultproxy.Proxy, side string, do func(context.Context, []byte) ([]byte, error)) error {
	var wg sync.WaitGroup
	errs := make(chan error, requests)
	next := make(chan int)
	for range requesters {
		wg.Go(func() {
			for i := range next {
				p := request(side, i)
				r, err := do(ctx, []byte(p))
				if err != nil {
					errs <- fmt.Errorf("%s request %d: %w", side, i, err)
				} else if string(r) != "re:"+p {
					errs <- fmt.Errorf("%s request %d: reply %q", side, i, r)
				}
			}
		})
	}
	for i := 1; i <= requests; i++ {
		for int64(i*requestCuts/requests) > px.Cuts() && ctx.Err() == nil {
			time.Sleep(time.Millisecond)
		}
		next <- i
	}
	close(next)
	wg.Wait()
	close(errs)
	return errors.Join(slicesOf(errs)...)
}

func slicesOf(ch <-chan error) []error {
	var out []error
	for err := range ch {
		out = append(out, err)
	}
	return out
}

// TestRequestsUnderFaults makes 300 requests each way, 8 at a time on each side,
// through a proxy that cuts every connection after a random 20-120 ms (24 cuts or
// more), on each forced transport and negotiated: every request must be answered exactly once (the
// answerers count the calls per request), every reply must reach its requester with
// the right payload, and the session must never reset.
func TestRequestsUnderFaults(t *testing.T) {
	for _, tc := range []struct {
		name       string
		transports []string
	}{
		{"websocket", []string{"websocket"}},
		{"stream", []string{"stream"}},
		{"poll", []string{"poll"}},
		{"negotiated", nil},
	} {
		t.Run(tc.name, func(t *testing.T) { requestsUnderFaults(t, tc.transports) })
	}
}

func requestsUnderFaults(t *testing.T, transports []string) {
	serverAnswers := &answers{n: map[string]int{}}
	clientAnswers := &answers{n: map[string]int{}}
	serverDone := make(chan error, 1)
	var px *faultproxy.Proxy
	srv := server.New(server.HandlerFunc(func(ctx context.Context, s *session.Session) {
		s.OnRequest(serverAnswers.fn)
		serverDone <- ask(ctx, px, "s", s.Request)
		<-ctx.Done()
	}), &server.Options{Heartbeat: 2 * time.Second, HeartbeatTimeout: time.Second, ShutdownDrain: -1})
	px = serveFaulty(t, srv)
	px.CutAfter(int64(len(transports)), 20*time.Millisecond, 120*time.Millisecond)

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	opts := faultyOptions(transports)
	opts.OnRequest = clientAnswers.fn
	c, err := client.Dial(ctx, "http://"+px.Addr(), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()

	clientDone := make(chan error, 1)
	go func() { clientDone <- ask(ctx, px, "c", c.Request) }()
	for _, ch := range []chan error{clientDone, serverDone} {
		select {
		case err := <-ch:
			if err != nil {
				t.Fatal(err)
			}
		case <-ctx.Done():
			t.Fatalf("timed out; cuts %d, stats %+v", px.Cuts(), c.Stats())
		}
	}
	if err := errors.Join(serverAnswers.check("c"), clientAnswers.check("s")); err != nil {
		t.Fatal(err)
	}
	st := c.Stats()
	t.Logf("cuts %d, client stats %+v", px.Cuts(), st)
	if px.Cuts() < requestCuts {
		t.Fatalf("only %d cuts: the requests were not tested under faults", px.Cuts())
	}
	if st.Resets != 0 {
		t.Fatalf("%d resets: the session was not kept", st.Resets)
	}
	if err := c.Close(1000, "done"); err != nil && !errors.Is(err, session.ErrClosed) {
		t.Fatalf("close: %v", err)
	}
}
