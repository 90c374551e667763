package integration

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lifelinehq/lifeline/client"
	"github.com/lifelinehq/lifeline/integration/faultproxy"
	"github.com/lifelinehq/lifeline/server"
	"github.com/lifelinehq/lifeline/session"
)

const (
	messages = 10000 // each way
	minCuts  = 24
)

// checkpoint is where writers wait for the k-th cut: message i may go once
// (i-1)*(minCuts+1)/messages cuts have landed, so the cuts are spread over the
// exchange however fast it runs.
func checkpoint(ctx context.Context, i int, cuts *atomic.Int64) {
	for int64((i-1)*(minCuts+1)/messages) > cuts.Load() && ctx.Err() == nil {
		time.Sleep(time.Millisecond)
	}
}

// TestIntegrityUnderFaults sends 10,000 messages each way through a proxy that cuts
// every connection at least 24 times during the exchange, per transport and with
// transport switches (WebSocket refused and allowed again, streams buffered and not):
// each side must receive exactly 1..10000, in order, with no reset.
func TestIntegrityUnderFaults(t *testing.T) {
	for _, tc := range []struct {
		name       string
		transports []string
		switching  bool
	}{
		{"websocket", []string{"websocket"}, false},
		{"stream", []string{"stream"}, false},
		{"poll", []string{"poll"}, false},
		{"negotiated-switching", nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) { exchange(t, tc.transports, tc.switching) })
	}
}

// numbered is message i: text, or every seventh one binary, of varying length.
func numbered(side byte, i int) (session.MessageType, []byte) {
	p := []byte(string(side) + strconv.Itoa(i) + strings.Repeat(".", i%97))
	if i%7 == 0 {
		return session.Binary, append([]byte{0, 255}, p...)
	}
	return session.Text, p
}

// check verifies that message i arrived next, intact.
func check(side byte, want int, typ session.MessageType, p []byte) error {
	wt, wp := numbered(side, want)
	if typ != wt || string(p) != string(wp) {
		n := strings.TrimLeft(strings.TrimRight(string(p), "."), "\x00\xff"+string(side))
		return fmt.Errorf("message %d: got %v %q (message %s?)", want, typ, truncate(p), n)
	}
	return nil
}

func truncate(p []byte) []byte {
	if len(p) > 20 {
		return p[:20]
	}
	return p
}

// serveFaulty serves srv on 127.0.0.1 behind a fault proxy; both stop at the end of
// the test.
func serveFaulty(t *testing.T, srv *server.Server) *faultproxy.Proxy {
	t.Helper()
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	px, err := faultproxy.New(strings.TrimPrefix(ts.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(px.Close)
	return px
}

// faultyOptions are the client options of the tests under faults: no keep-alive (a
// cut ends one request's connection), quick backoffs and re-probes.
func faultyOptions(transports []string) *client.Options {
	return &client.Options{
		Transports: transports, HTTPClient: &http.Client{Transport: &http.Transport{DisableKeepAlives: true}},
		BackoffMin: 10 * time.Millisecond, BackoffMax: 100 * time.Millisecond,
		ReprobeMin: 100 * time.Millisecond, ReprobeMax: 400 * time.Millisecond,
		ConnectTimeout: 500 * time.Millisecond, WebSocketDeadline: 2 * time.Second,
	}
}

func exchange(t *testing.T, transports []string, switching bool) {
	var cutsDone atomic.Int64
	serverDone := make(chan error, 1)
	srv := server.New(server.HandlerFunc(func(ctx context.Context, s *session.Session) {
		go func() {
			for i := 1; i <= messages; i++ {
				checkpoint(ctx, i, &cutsDone)
				typ, p := numbered('s', i)
				if s.Write(ctx, typ, p) != nil {
					return
				}
			}
		}()
		for i := 1; i <= messages; i++ {
			typ, p, err := s.Read(ctx)
			if err != nil {
				serverDone <- fmt.Errorf("server read %d: %w", i, err)
				return
			}
			if err := check('c', i, typ, p); err != nil {
				serverDone <- fmt.Errorf("server: %w", err)
				return
			}
		}
		serverDone <- nil
		<-ctx.Done()
	}), &server.Options{Heartbeat: 2 * time.Second, HeartbeatTimeout: time.Second})
	px := serveFaulty(t, srv)

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, "http://"+px.Addr()+"/ll", faultyOptions(transports))
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()

	var sent, got atomic.Int64
	writeErr := make(chan error, 1)
	go func() {
		for i := 1; i <= messages; i++ {
			checkpoint(ctx, i, &cutsDone)
			typ, p := numbered('c', i)
			if err := c.Write(ctx, typ, p); err != nil {
				writeErr <- fmt.Errorf("client write %d: %w", i, err)
				return
			}
			sent.Add(1)
		}
		writeErr <- nil
	}()
	readErr := make(chan error, 1)
	go func() {
		for i := 1; i <= messages; i++ {
			typ, p, err := c.Read(ctx)
			if err != nil {
				readErr <- fmt.Errorf("client read %d: %w", i, err)
				return
			}
			if err := check('s', i, typ, p); err != nil {
				readErr <- fmt.Errorf("client: %w", err)
				return
			}
			got.Add(1)
		}
		readErr <- nil
	}()

	// Chaos: the writers pause at each checkpoint until the next cut lands on an open
	// connection. When switching, odd cuts come with the WebSocket refused (and streams
	// sometimes buffered), so the client falls back; before even cuts the WebSocket is
	// allowed again and the chaos waits for the re-probe to move the session up.
	rng := rand.New(rand.NewSource(1))
	transportsSeen := map[string]bool{}
	chaosDone := make(chan struct{})
	waitFor := func(cond func() bool) {
		for deadline := time.Now().Add(10 * time.Second); !cond() && time.Now().Before(deadline) && ctx.Err() == nil; {
			time.Sleep(time.Millisecond)
		}
	}
	// On one transport other than poll, each cut waits for a connection that carries
	// the session (its hello arrived) since the last: a cut that lands on a resume
	// still in its handshake ends an attempt, not a connection, and is no cut of the
	// session (on a loaded machine, half the cuts did).
	carrying := len(transports) == 1 && transports[0] != "poll"
	var carried uint64
	go func() {
		defer close(chaosDone)
		for k := 1; k <= minCuts && ctx.Err() == nil; {
			waitFor(func() bool { return px.Open() > 0 && (!carrying || c.Stats().Connects > carried) })
			time.Sleep(time.Duration(rng.Intn(20)) * time.Millisecond) // let traffic flow
			if switching {
				transportsSeen[c.Transport()] = true
				if k%2 == 1 {
					px.SetWebSocket(faultproxy.Refuse)
					px.SetStream(faultproxy.Pass)
					if rng.Intn(3) == 0 {
						px.SetStream(faultproxy.Buffer)
					}
				} else {
					px.SetWebSocket(faultproxy.Pass)
					waitFor(func() bool { return c.Transport() == "websocket" })
				}
			}
			connects := c.Stats().Connects
			if px.CutAll() > 0 {
				carried = connects
				cutsDone.Add(1)
				k++
				if switching && k%2 == 0 {
					waitFor(func() bool { return c.Transport() != "websocket" })
				}
			}
		}
	}()

	for _, ch := range []chan error{writeErr, readErr, serverDone} {
		select {
		case err := <-ch:
			if err != nil {
				t.Fatal(err)
			}
		case <-ctx.Done():
			t.Fatalf("timed out: client sent %d, got %d; cuts %d; stats %+v", sent.Load(), got.Load(), cutsDone.Load(), c.Stats())
		}
	}
	<-chaosDone
	cuts := cutsDone.Load()
	st := c.Stats()
	t.Logf("cuts %d, client stats %+v, server stats %+v, transports seen %v", cuts, st, srv.Stats(), transportsSeen)
	if cuts < minCuts {
		t.Fatalf("only %d cuts landed on open connections, want %d", cuts, minCuts)
	}
	if st.Resets != 0 {
		t.Fatalf("%d resets: the session was not kept", st.Resets)
	}
	// A cut poll or send is retried within the same run of polls, which is not a new
	// connection; every other cut ends a connection, and the client resumes.
	if len(transports) == 1 && transports[0] != "poll" && st.Resumes < uint64(minCuts/2) {
		t.Fatalf("only %d resumes for %d cuts", st.Resumes, cuts)
	}
	if switching && (st.Fallbacks < minCuts/2-1 || st.Upgrades < minCuts/2-1) {
		t.Fatalf("too few transport switches (want %d each way): %+v", minCuts/2-1, st)
	}
	if err := c.Close(1000, "done"); err != nil && !errors.Is(err, session.ErrClosed) {
		t.Fatalf("close: %v", err)
	}
}
