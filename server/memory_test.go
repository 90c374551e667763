package server_test

import (
	"context"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/lifelinehq/lifeline/server"
	"github.com/lifelinehq/lifeline/transport"
)

// stuff opens n WebSocket sessions on the echo server that each send count binary
// messages of size bytes and never read: every one fills its queues both ways (the
// handler blocks on Write, so it stops reading). It returns when the writes have been
// started; cancel ends them.
func stuff(t testing.TB, base string, n, count, size int) (cancel func()) {
	t.Helper()
	ctx, cancelCtx := context.WithCancel(context.Background())
	p := make([]byte, size) // shared: the clients' own memory stays small
	var wg sync.WaitGroup
	var conns []*websocket.Conn
	for range n {
		c, _, err := websocket.Dial(ctx, wsURL(base), nil)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		for _, f := range []string{string(transport.AppendResume(nil, &transport.ResumeReq{V: 1})), "A0", "S1"} {
			if err := c.Write(ctx, websocket.MessageText, []byte(f)); err != nil {
				t.Fatal(err)
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range count {
				if c.Write(ctx, websocket.MessageBinary, p) != nil {
					return
				}
			}
		}()
	}
	return func() {
		cancelCtx()
		for _, c := range conns {
			c.CloseNow()
		}
		wg.Wait()
	}
}

// TestQueuedBytesBudget: sessions that fill their queues and never read hold, all
// together, at most Options.QueuedBytesBudget of queued payload (Stats, the engine's
// own accounting), however many there are; each holds at most its two queues. Before
// the budget, 16 such sessions held 16 times their two queues.
func TestQueuedBytesBudget(t *testing.T) {
	const (
		n      = 16
		queue  = 64 << 10
		msg    = 8 << 10
		budget = 256 << 10 // an eighth of what n sessions would hold: n·2·queue
	)
	srv, base := start(t, echo, &server.Options{MaxQueuedBytes: queue, MaxMessageBytes: msg, QueuedBytesBudget: budget})
	stop := stuff(t, base, n, 40, msg)
	defer stop()
	// Sample until the budget is full, then a while longer: the total must never
	// pass it.
	high, full := int64(0), 0
	for i := 0; i < 2000 && full < 100; i++ {
		st := srv.Stats()
		total := st.QueuedIn + st.QueuedOut
		high = max(high, total)
		if total > budget {
			t.Fatalf("%d sessions hold %d queued bytes: over the budget of %d", n, total, budget)
		}
		if total > budget-2*msg {
			full++
		}
		time.Sleep(5 * time.Millisecond)
	}
	if full == 0 {
		t.Fatalf("the sessions never filled the budget: at most %d of %d bytes", high, budget)
	}
	t.Logf("%d sessions held at most %d queued bytes (budget %d, %d without it)", n, high, budget, n*2*queue)
}

// TestMemoryPerSession: a WebSocket session that sends 40 messages of 64 KiB and never
// reads makes the server hold (heap, after GC) at most its two queues
// (2×MaxQueuedBytes) plus a fixed overhead: one message being read (with the slack
// of its buffer), the one the handler holds, and the connection's buffers; 8 messages
// (512 KiB) here, a generous margin over the 0.15 MiB measured.
func TestMemoryPerSession(t *testing.T) {
	const n, queue = 8, 1 << 20
	srv, base := start(t, echo, nil)
	heap := func() int64 {
		runtime.GC()
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return int64(m.HeapAlloc)
	}
	before := heap()
	stop := stuff(t, base, n, 40, 64<<10)
	defer stop()
	for i := 0; i < 2000; i++ { // until every session's queues are full
		st := srv.Stats()
		if st.QueuedIn+st.QueuedOut >= n*2*(queue-64<<10) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // let the in-flight reads land
	per := (heap() - before) / n
	limit := int64(2*queue + 8*65536) // 8 messages' worth of overhead
	t.Logf("heap per session %d bytes (%.2f MiB); bound %d", per, float64(per)/(1<<20), limit)
	if per > limit {
		t.Fatalf("a session holds %d bytes of heap, over 2×MaxQueuedBytes + 512 KiB = %d", per, limit)
	}
}
