package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
)

// probe asks whether the flow or request named key is still served at subj: it
// reports false on "0", "no responders" or no answer within ProbeTimeout.
func (c *Cluster) probe(ctx context.Context, subj, key string) bool {
	ctx, cancel := context.WithTimeout(ctx, c.o.ProbeTimeout)
	defer cancel()
	m, err := c.nc.RequestWithContext(ctx, subj, appendString(appendStart(nil, kindPing, 0), key))
	return err == nil && len(m.Data) == 1 && m.Data[0] == '1'
}

// goProbe probes subj about key every Probe until ctx ends, and cancels when the
// answer is no. The channel it returns is closed when it has stopped.
func (c *Cluster) goProbe(ctx context.Context, cancel context.CancelFunc, subj, key string) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(c.o.Probe)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if !c.probe(ctx, subj, key) {
					c.stats.lost.Add(1)
					cancel()
					return
				}
			}
		}
	}()
	return done
}

// noResponders reports whether m is NATS's answer that nobody subscribes to the
// subject a request was sent to.
func noResponders(m *nats.Msg) bool {
	return len(m.Data) == 0 && m.Header.Get("Status") == "503"
}

// believeNoResponders reports whether "no responders" means the owner is gone, not
// that it has yet to resubscribe after a NATS restart.
func (c *Cluster) believeNoResponders() bool {
	// nats.go counts a reconnection before it resubscribes and flushes what it
	// buffered, so an answer to a request sent after a reconnection sees it here
	// even if ReconnectedCB (run later, on another goroutine) has not run yet.
	if r := c.nc.Stats().Reconnects; r != c.seenReconnects.Load() {
		c.seenReconnects.Store(r)
		c.reconnectedAt.Store(time.Now().UnixNano())
		return false
	}
	at := c.reconnectedAt.Load()
	return at == 0 || time.Since(time.Unix(0, at)) >= c.o.ReconnectGrace
}

// flow is one side of a relayed request: the messages NATS brings to its subject, in
// order, and whether one was lost.
type flow struct {
	c    *Cluster
	subj string

	// The messages waiting, q[head:], at most flowQueue. A queue grown on demand, not
	// a channel of flowQueue: a channel's buffer is allocated whole, 32 KiB for every
	// flow, which two per relayed WebSocket made its largest cost.
	mu    sync.Mutex
	q     []*nats.Msg
	head  int
	ready chan struct{} // buffered 1: q may hold a message

	next  uint64      // the flow number expected next (receiving goroutine only)
	timer *time.Timer // recv's probe timer (receiving goroutine only)

	lostOnce sync.Once
	lost     chan struct{} // closed when a message could not be queued, or on Close
}

// flowQueue bounds the messages waiting in one flow; beyond it the flow is lost (its
// connection ends and the client resumes).
const flowQueue = 4096

func (c *Cluster) newFlow() *flow {
	f := &flow{c: c, subj: fmt.Sprintf("%sf.%d", c.base, c.n.Add(1)), ready: make(chan struct{}, 1),
		next: 1, lost: make(chan struct{})}
	c.mu.Lock()
	c.flows[f.subj] = f
	if c.ctx.Err() != nil {
		f.lose()
	}
	c.mu.Unlock()
	return f
}

func (f *flow) put(m *nats.Msg) {
	f.mu.Lock()
	full := len(f.q)-f.head >= flowQueue
	if !full {
		f.q = append(f.q, m)
	}
	f.mu.Unlock()
	if full {
		f.lose()
		return
	}
	select {
	case f.ready <- struct{}{}:
	default:
	}
}

// take returns the oldest message waiting, or nil.
func (f *flow) take() *nats.Msg {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.head == len(f.q) {
		return nil
	}
	m := f.q[f.head]
	f.q[f.head] = nil
	f.head++
	if f.head == len(f.q) { // empty: start over, and let a burst's array go
		f.head = 0
		f.q = f.q[:0]
		if cap(f.q) > 64 {
			f.q = nil
		}
	}
	return m
}

func (f *flow) lose() { f.lostOnce.Do(func() { close(f.lost) }) }

func (f *flow) close() {
	f.c.mu.Lock()
	delete(f.c.flows, f.subj)
	f.c.mu.Unlock()
}

// dropHook, set by tests only, loses the numbered messages it returns true for.
var dropHook atomic.Pointer[func(subject string, n uint64) bool]

// errLost ends a relay whose flow lost a message, or whose other side is gone.
var errLost = errors.New("lifeline/cluster: relay lost")

// recv returns the flow's next message in order, the kind, and a reader past the flow
// number. A message out of order (one was lost), a lost flow, or a failed probe of the
// other side (probeSubj, probeKey) returns errLost; ctx's end returns its error.
func (f *flow) recv(ctx context.Context, probeSubj, probeKey string) (*nats.Msg, byte, *reader, error) {
	if m := f.take(); m != nil {
		return f.check(m)
	}
	if f.timer == nil {
		f.timer = time.NewTimer(f.c.o.Probe)
	} else {
		f.timer.Reset(f.c.o.Probe)
	}
	t := f.timer
	defer t.Stop()
	for {
		select {
		case <-f.ready:
			if m := f.take(); m != nil {
				return f.check(m)
			}
		case <-f.lost:
			f.c.stats.lost.Add(1)
			return nil, 0, nil, errLost
		case <-ctx.Done():
			return nil, 0, nil, ctx.Err()
		case <-t.C:
			if probeSubj != "" && !f.c.probe(ctx, probeSubj, probeKey) {
				f.c.stats.lost.Add(1)
				return nil, 0, nil, errLost
			}
			t.Reset(f.c.o.Probe)
		}
	}
}

// check numbers a message taken from the queue: see recv.
func (f *flow) check(m *nats.Msg) (*nats.Msg, byte, *reader, error) {
	select {
	case <-f.lost: // lost before this message was taken: it may follow a gap
		f.c.stats.lost.Add(1)
		return nil, 0, nil, errLost
	default:
	}
	if noResponders(m) {
		return m, 0, nil, nil // for the caller to judge (it does not advance the flow)
	}
	r := &reader{b: m.Data}
	kind, n := r.start()
	if r.err != nil || n != f.next {
		f.c.stats.lost.Add(1)
		return nil, 0, nil, errLost
	}
	f.next++
	return m, kind, r, nil
}

// sender numbers the messages of one direction of a flow.
type sender struct {
	c    *Cluster
	to   string
	n    uint64
	mu   sync.Mutex
	fail error
	buf  []byte // reused for each message, up to maxKeptBuf
}

// maxKeptBuf is the largest message buffer a sender keeps between messages.
const maxKeptBuf = 16 << 10

// send publishes one message built by build after the kind and flow number.
func (s *sender) send(kind byte, build func([]byte) []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	s.n++
	b := appendStart(s.buf[:0], kind, s.n)
	if build != nil {
		b = build(b)
	}
	if cap(b) <= maxKeptBuf {
		s.buf = b // Publish copies b into the connection's buffer before it returns
	}
	if drop := dropHook.Load(); drop != nil && (*drop)(s.to, s.n) {
		return nil // tests: lost between the nodes, as NATS core may lose it
	}
	if err := s.c.nc.Publish(s.to, b); err != nil {
		s.fail = err // a later message would leave a gap: nothing more goes out
		return err
	}
	return nil
}
