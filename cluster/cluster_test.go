package cluster_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/lifelinehq/lifeline/client"
	"github.com/lifelinehq/lifeline/cluster"
	"github.com/lifelinehq/lifeline/server"
	"github.com/lifelinehq/lifeline/session"
	"github.com/lifelinehq/lifeline/transport"
)

var quiet = slog.New(slog.DiscardHandler)

// node is one Lifeline node of a test cluster: its own NATS connection, Cluster and
// Server.
type node struct {
	name string
	nc   *nats.Conn
	cl   *cluster.Cluster
	srv  *server.Server
	down atomic.Bool // the front sends it nothing
	url  string      // this node alone, for a client that must start here

	dead context.Context // done when the node is killed
	kill context.CancelFunc
}

// testCluster is three nodes behind a round-robin front: an in-process handler that
// gives each request (and each WebSocket) to the next node that is up, with no
// stickiness at all.
type testCluster struct {
	nodes    []*node
	front    *httptest.Server
	requests atomic.Int64
}

func echo(ctx context.Context, s *session.Session) {
	for {
		typ, p, err := s.Read(ctx)
		if err != nil || s.Write(ctx, typ, p) != nil {
			return
		}
	}
}

func newTestCluster(t testing.TB, ns *natsServer, h server.HandlerFunc, names ...string) *testCluster {
	t.Helper()
	return newTestClusterOpts(t, ns, h, nil, names...)
}

// newTestClusterOpts is newTestCluster with more server options set by opts.
func newTestClusterOpts(t testing.TB, ns *natsServer, h server.HandlerFunc, opts func(*server.Options), names ...string) *testCluster {
	t.Helper()
	tc := &testCluster{}
	for _, name := range names {
		nc, err := nats.Connect(ns.URL(), nats.ReconnectWait(50*time.Millisecond), nats.MaxReconnects(-1))
		if err != nil {
			t.Fatal(err)
		}
		cl, err := cluster.New(nc, cluster.Options{Node: name, Logger: quiet, Probe: time.Second, ReconnectGrace: 3 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		o := &server.Options{Router: cl, Logger: quiet, ShutdownDrain: -1}
		if opts != nil {
			opts(o)
		}
		srv := server.New(h, o)
		direct := httptest.NewServer(srv)
		t.Cleanup(direct.Close)
		nd := &node{name: name, nc: nc, cl: cl, srv: srv, url: direct.URL}
		nd.dead, nd.kill = context.WithCancel(context.Background())
		tc.nodes = append(tc.nodes, nd)
	}
	var turn atomic.Int64
	tc.front = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tc.requests.Add(1)
		for {
			n := tc.nodes[turn.Add(1)%int64(len(tc.nodes))]
			if !n.down.Load() {
				// A request the node holds when it is killed dies with it: its
				// context ends and its connection drops.
				ctx, cancel := context.WithCancel(r.Context())
				defer cancel()
				defer context.AfterFunc(n.dead, cancel)()
				n.srv.ServeHTTP(w, r.WithContext(ctx))
				if n.dead.Err() != nil {
					panic(http.ErrAbortHandler)
				}
				return
			}
		}
	}))
	t.Cleanup(func() {
		for _, n := range tc.nodes {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			n.srv.Shutdown(ctx)
			cancel()
		}
		for _, n := range tc.nodes {
			n.cl.Close()
			n.nc.Close()
		}
		tc.front.Close()
	})
	return tc
}

// kill takes a node out abruptly, as SIGKILL would: the front stops sending it
// requests, the HTTP requests it holds drop, and its NATS connection closes, its
// Server saying nothing to anyone. (A WebSocket it holds stays up: a test cuts those
// with the fault proxy.)
func (tc *testCluster) kill(n *node) {
	n.down.Store(true)
	n.kill()
	n.nc.Close()
	n.cl.Close()
}

func (tc *testCluster) relayed() (n uint64) {
	for _, nd := range tc.nodes {
		n += nd.cl.Stats().Relayed
	}
	return n
}

func (tc *testCluster) owner(id string) *node {
	for _, n := range tc.nodes {
		if cluster.Owner(id) == n.name {
			return n
		}
	}
	return nil
}

func dial(t *testing.T, ctx context.Context, url string, transports ...string) *client.Conn {
	return dialB(t, ctx, url, transports...)
}

func dialB(t testing.TB, ctx context.Context, url string, transports ...string) *client.Conn {
	return dialHeader(t, ctx, url, nil, transports...)
}

func dialHeader(t testing.TB, ctx context.Context, url string, h http.Header, transports ...string) *client.Conn {
	t.Helper()
	c, err := client.Dial(ctx, url, &client.Options{Transports: transports, Logger: quiet, Header: h,
		BackoffMin: 20 * time.Millisecond, BackoffMax: 200 * time.Millisecond,
		HTTPClient: &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.CloseNow() })
	return c
}

// exchange writes n messages while reading their echoes, and fails on any message
// lost, duplicated or out of order.
func exchange(t *testing.T, ctx context.Context, c *client.Conn, tag string, n int) {
	t.Helper()
	if err := exchangeErr(ctx, c, tag, n); err != nil {
		t.Fatal(err)
	}
}

func exchangeErr(ctx context.Context, c *client.Conn, tag string, n int) error {
	werr := make(chan error, 1)
	go func() {
		for i := range n {
			if err := c.Write(ctx, session.Text, fmt.Appendf(nil, "%s%d", tag, i)); err != nil {
				werr <- err
				return
			}
		}
		werr <- nil
	}()
	for i := range n {
		_, p, err := c.Read(ctx)
		if err != nil {
			return fmt.Errorf("read %d: %w", i, err)
		}
		if want := fmt.Sprintf("%s%d", tag, i); string(p) != want {
			return fmt.Errorf("message %d: got %q, want %q (lost, duplicated or reordered)", i, p, want)
		}
	}
	return <-werr
}

// TestClusterEcho: on each transport, forced and negotiated, a session behind a
// round-robin front carries thousands of messages each way exactly once and in
// order, with most of its HTTP requests relayed to the owner over NATS.
func TestClusterEcho(t *testing.T) {
	ns := startNATS(t)
	tc := newTestCluster(t, ns, echo, "a", "b", "c")
	for _, tr := range [][]string{{"websocket"}, {"stream"}, {"poll"}, nil} {
		name := "negotiated"
		if tr != nil {
			name = tr[0]
		}
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			relayed, requests := tc.relayed(), tc.requests.Load()
			c := dial(t, ctx, tc.front.URL, tr...)
			exchange(t, ctx, c, name, 2000)
			if s := c.Stats(); s.Resets != 0 {
				t.Errorf("session reset: %+v", s)
			}
			relayed, requests = tc.relayed()-relayed, tc.requests.Load()-requests
			t.Logf("%s: %d requests through the front, %d relayed", c.Transport(), requests, relayed)
			if c.Transport() != "websocket" && 2*int64(relayed) < requests {
				t.Errorf("only %d of %d requests relayed (expected about 2 in 3, at least half)", relayed, requests)
			}
			if err := c.Close(1000, ""); err != nil && err != io.EOF {
				t.Error(err)
			}
		})
	}
}

// TestClusterBroadcast: a broadcast on any node reaches every member on every node
// exactly once, with one NATS message per broadcast.
func TestClusterBroadcast(t *testing.T) {
	ns := startNATS(t)
	var joined sync.WaitGroup
	var tc *testCluster
	tc = newTestCluster(t, ns, func(ctx context.Context, s *session.Session) {
		for _, n := range tc.nodes {
			if cluster.Owner(s.ID()) == n.name {
				n.srv.Join("room", s)
			}
		}
		joined.Done()
		echo(ctx, s)
	}, "a", "b", "c")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	const members = 12
	var conns []*client.Conn
	owners := map[string]int{}
	for i := range members {
		joined.Add(1)
		// Created on each node in turn (and kept there: this test is about groups).
		c := dial(t, ctx, tc.nodes[i%3].url, []string{"websocket", "stream", "poll"}[i/3%3])
		conns = append(conns, c)
		owners[cluster.Owner(c.SessionID())]++
	}
	joined.Wait()
	if len(owners) != 3 {
		t.Fatalf("sessions on %d nodes, want 3: %v", len(owners), owners)
	}
	before := tc.nodes[1].cl.Stats().Broadcasts + tc.nodes[2].cl.Stats().Broadcasts
	local := tc.nodes[0].srv.Broadcast("room", session.Text, []byte("first"))
	tc.nodes[1].srv.Broadcast("room", session.Text, []byte("second"))
	if local != owners["a"] {
		t.Errorf("Broadcast on a reached %d of its own members, want %d", local, owners["a"])
	}
	// Broadcasts made on two nodes have no order between them; each arrives once.
	for i, c := range conns {
		got := map[string]int{}
		for range 2 {
			_, p, err := c.Read(ctx)
			if err != nil {
				t.Fatalf("member %d: %v", i, err)
			}
			got[string(p)]++
		}
		if got["first"] != 1 || got["second"] != 1 {
			t.Fatalf("member %d got %v, want first and second once each", i, got)
		}
	}
	// A distinct echo after both broadcasts shows no broadcast arrived twice.
	for i, c := range conns {
		if err := c.Write(ctx, session.Text, []byte("after")); err != nil {
			t.Fatal(err)
		}
		if _, p, err := c.Read(ctx); err != nil || string(p) != "after" {
			t.Fatalf("member %d: got %q %v after the broadcasts (a duplicate?)", i, p, err)
		}
	}
	// One NATS message per broadcast per receiving node: b and c each got "first",
	// and c got "second" (b sent it).
	if got := tc.nodes[1].cl.Stats().Broadcasts + tc.nodes[2].cl.Stats().Broadcasts - before; got != 3 {
		t.Errorf("b and c received %d broadcast messages, want 3", got)
	}
}

// TestClusterPostPoll: POST polls (a poll carrying a send body, as the JS client makes
// them) sent round-robin reach the owner with their bodies: each is answered with the
// owner's ack and the echo of what it carried.
func TestClusterPostPoll(t *testing.T) {
	ns := startNATS(t)
	tc := newTestCluster(t, ns, echo, "a", "b", "c")
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 30 * time.Second}
	do := func(method string, body string, hdr ...string) []transport.Frame {
		t.Helper()
		r, _ := http.NewRequest(method, tc.front.URL+"/poll", strings.NewReader(body))
		for i := 0; i < len(hdr); i += 2 {
			r.Header.Set(hdr[i], hdr[i+1])
		}
		res, err := hc.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		if res.StatusCode != 200 {
			t.Fatalf("%s poll: %d", method, res.StatusCode)
		}
		var fs []transport.Frame
		rd := transport.NewReader(res.Body, 1<<20)
		for {
			f, err := rd.Next()
			if err == io.EOF {
				return fs
			}
			if err != nil {
				t.Fatal(err)
			}
			f.Data = bytes.Clone(f.Data)
			fs = append(fs, f)
		}
	}
	fs := do("GET", "")
	h, err := transport.DecodeHello(fs[0].Data)
	if err != nil {
		t.Fatal(err)
	}
	relayed := tc.relayed()
	for i := range 6 {
		seq := strconv.Itoa(i + 1)
		var b []byte
		b = transport.AppendEvent(b, []byte("S"+seq))
		b = transport.AppendEvent(b, []byte("Mm"+seq))
		fs := do("POST", string(b), transport.HeaderSession, h.SessionID, transport.HeaderToken, h.Token,
			transport.HeaderAck, strconv.Itoa(i), transport.HeaderConn, "0")
		var got []string
		for _, f := range fs {
			switch f.Type {
			case transport.FrameAck, transport.FrameSeq:
				got = append(got, fmt.Sprintf("%c%d", f.Type, f.Num))
			case transport.FrameText:
				got = append(got, "M"+string(f.Data))
			}
		}
		if want := []string{"A" + seq, "S" + seq, "Mm" + seq}; !slices.Equal(got, want) {
			t.Fatalf("POST poll %d: got %q, want %q", i+1, got, want)
		}
	}
	if n := tc.relayed() - relayed; n < 3 {
		t.Errorf("%d of 6 POST polls relayed, want about 4", n)
	}
}
