package server_test

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/lifelinehq/lifeline/client"
	"github.com/lifelinehq/lifeline/server"
	"github.com/lifelinehq/lifeline/session"
)

// TestStreamBroadcastAcks: broadcasts to a stream session spaced beyond the 250 ms
// nudge cost far fewer ack requests than broadcasts: the client acks on its own
// schedule (client.AckDelay, 5 s, after the first unacknowledged message), several
// messages at once, and does ack them in the end. The first broadcast carries the
// stream's probe (a P the client answers at once, docs/protocol.md §6); once that ack
// shows the stream prompt, no more. (A P nudge 250 ms after each message made the
// client answer each one with a send request; a 1 s delay, one request a second.) It
// counts requests.
func TestStreamBroadcastAcks(t *testing.T) {
	defer server.SetStreamProbeOdds(1)() // every write probes until one shows the stream prompt
	const n = 10
	joined := make(chan struct{})
	var srv *server.Server
	srv = server.New(server.HandlerFunc(func(ctx context.Context, s *session.Session) {
		srv.Join("all", s)
		s.Read(ctx) // the client's first message: its send request is counted before the broadcasts
		close(joined)
		<-ctx.Done()
	}), &server.Options{ShutdownDrain: -1})
	var sends atomic.Int64
	r := chi.NewRouter()
	r.Mount("/ll", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == "POST" {
			sends.Add(1)
		}
		srv.ServeHTTP(w, r)
	}))
	ts := newLocalServer(r)
	defer ts.Close()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}()
	c, err := client.Dial(ctxT(t), ts.URL+"/ll", &client.Options{Transports: []string{"stream"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	if err := c.Write(ctxT(t), session.Text, []byte("hello")); err != nil { // confirms
		t.Fatal(err)
	}
	<-joined
	before := sends.Load()
	for i := range n {
		if got := srv.Broadcast("all", session.Text, fmt.Appendf(nil, "b%d", i)); got != 1 {
			t.Fatalf("broadcast %d reached %d sessions", i, got)
		}
		_, p, err := c.Read(ctxT(t))
		if err != nil || string(p) != fmt.Sprintf("b%d", i) {
			t.Fatalf("read %q, %v; want b%d", p, err, i)
		}
		time.Sleep(400 * time.Millisecond) // beyond the 250 ms nudge
	}
	// Over these 4 s the client acks the probe and otherwise waits (5 s after the
	// first message, counted from its arrival): a 1 s delay would have sent about 4.
	// (A machine so slow that the probe's ack came after the first nudge would probe
	// again with the next write: 2 is allowed.)
	if got := sends.Load() - before; got > 2 {
		t.Errorf("%d broadcasts over %v cost %d send requests, want at most 2", n, n*400*time.Millisecond, got)
	} else {
		t.Logf("%d broadcasts, %d send requests", n, got)
	}
	// And the ack does come, unasked: a send within the ack delay after the loop.
	loop := sends.Load()
	deadline := time.Now().Add(client.AckDelay + 5*time.Second)
	for sends.Load() == loop && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if sends.Load() == loop {
		t.Errorf("no ack request within %v of the last broadcast", client.AckDelay+5*time.Second)
	}
}
