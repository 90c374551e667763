package client

import (
	"context"
	"time"

	"github.com/lifelinehq/lifeline/internal/engine"
	"github.com/lifelinehq/lifeline/transport"
)

// carrier is one transport connection whose hello has arrived.
type carrier interface {
	// confirm confirms the session the connection created (A0, docs/protocol.md §3).
	confirm(ctx context.Context) error
	// run carries the session on l until the connection ends, and says why.
	run(l *engine.Link, in *engine.Inbound) error
	// abort drops the connection; safe at any time and more than once.
	abort()
	// acked returns the ack the opening request gave the server: messages received
	// after it went out still need acknowledging.
	acked() uint64
}

// candidate is a WebSocket that delivered the hello of a live session outside the
// supervisor (a re-probe, or a race's late WebSocket), or why it did not.
type candidate struct {
	g     *gen
	car   carrier
	hello *transport.Hello
	conn  uint64
	probe bool
	err   error
}

// open opens a connection on the named transport with req as its first request or
// frame, and waits for the hello within ctx.
func (c *Conn) open(ctx context.Context, name string, g *gen, req *transport.ResumeReq) (carrier, *transport.Hello, error) {
	if name == nameWebSocket {
		w, h, err := c.dialWS(ctx, g, req)
		if err != nil {
			return nil, nil, err
		}
		return w, h, nil
	}
	hc, h, err := c.openHTTP(ctx, name, g, req)
	if err != nil {
		return nil, nil, err
	}
	return hc, h, nil
}

// attempt is one transport's try in a race.
type attempt struct {
	i     int
	ctx   context.Context // bounds the attempt: the WebSocket deadline
	car   carrier
	hello *transport.Hello
	err   error
}

// create starts a fresh session on g by racing the transports (docs/protocol.md §4):
// the first in the order at once, the second after WebSocketHeadStart and the third at
// PollStart while none works yet (at once when every one started has failed). The
// first hello wins; the session is confirmed on it. It returns the winner, running,
// and whether a WebSocket attempt goes on (it will report to c.cands).
func (c *Conn) create(ctx context.Context, g *gen) (*live, bool, error) {
	auth, err := c.auth(ctx)
	if err != nil {
		return nil, false, err
	}
	order := c.opts.Transports
	results := make(chan attempt, len(order))
	cancels := make([]context.CancelFunc, len(order))
	started, pending := 0, 0
	start := func() {
		i := started
		started++
		pending++
		actx, cancel := context.WithTimeout(c.ctx, c.opts.WebSocketDeadline)
		cancels[i] = cancel
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			car, h, err := c.open(actx, order[i], g, &transport.ResumeReq{V: transport.Version, Auth: auth})
			results <- attempt{i: i, ctx: actx, car: car, hello: h, err: err}
		}()
	}
	t0 := time.Now()
	start()
	timer := time.NewTimer(c.opts.startAt(1))
	defer timer.Stop()
	var failure error
	for {
		var tick <-chan time.Time
		if started < len(order) {
			tick = timer.C
		}
		select {
		case <-tick:
			start()
			timer.Reset(c.opts.startAt(started) - time.Since(t0))
			continue
		case <-ctx.Done():
			c.leave(g, results, pending, cancels, -1)
			return nil, false, ctx.Err()
		case r := <-results:
			pending--
			if r.err == nil {
				lv, err := c.win(ctx, g, order[r.i], r)
				if err == nil {
					late := c.leave(g, results, pending, cancels, r.i)
					cancels[r.i]()
					return lv, late, nil
				}
				r.err = err
			}
			cancels[r.i]()
			c.log.Debug("lifeline: transport failed", "transport", order[r.i], "err", r.err)
			// The failure reported is the one that says most: a close code, else one
			// worth trying again (Dial then does).
			if failure == nil || (!hasCode(failure) && hasCode(r.err)) ||
				(!hasCode(failure) && !hasCode(r.err) && !transient(failure) && transient(r.err)) {
				failure = r.err
			}
			if pending == 0 {
				if started == len(order) {
					return nil, false, failure
				}
				start() // nothing left to wait for
				timer.Reset(c.opts.startAt(started) - time.Since(t0))
			}
		}
	}
}

// win confirms the session on a race's winner and starts it.
func (c *Conn) win(ctx context.Context, g *gen, name string, r attempt) (*live, error) {
	cctx, cancel := context.WithTimeout(ctx, c.opts.WebSocketDeadline)
	defer cancel()
	err := r.car.confirm(cctx)
	var lv *live
	if err == nil {
		lv, err = c.start(g, name, 0, r.car, r.hello)
	}
	if err != nil {
		r.car.abort()
		return nil, err
	}
	return lv, nil
}

// leave abandons a race's other attempts (all of them when winner is -1): HTTP ones
// are aborted; a WebSocket still under way goes on until its deadline, and if its hello
// arrives, a second R moves the live session onto it (docs/protocol.md §4, step 5). It
// reports whether such a WebSocket goes on.
func (c *Conn) leave(g *gen, results chan attempt, pending int, cancels []context.CancelFunc, winner int) bool {
	if pending == 0 {
		return false
	}
	order := c.opts.Transports
	late := false
	for i, cancel := range cancels {
		switch {
		case cancel == nil || i == winner:
		case order[i] == nameWebSocket && winner >= 0:
			late = true // may have finished already: then its result is waiting
		default:
			cancel()
		}
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		for range pending {
			r := <-results
			ws := order[r.i] == nameWebSocket && winner >= 0
			switch {
			case r.err != nil && ws:
				c.offer(&candidate{g: g, err: r.err})
			case r.err != nil:
			case ws:
				c.upgrade(r.ctx, g, r.car.(*wsConn))
			default:
				r.car.abort()
			}
			cancels[r.i]()
		}
	}()
	return late
}

// upgrade sends a second R on a race's late WebSocket, naming the live session, and
// offers it to the supervisor once the session's hello arrives.
func (c *Conn) upgrade(ctx context.Context, g *gen, w *wsConn) {
	cand := &candidate{g: g}
	auth, err := c.auth(ctx)
	if err == nil {
		sid, token := g.ids()
		cand.conn = g.conn.Add(1)
		cand.hello, err = w.handshake(ctx, &transport.ResumeReq{
			V: transport.Version, SessionID: sid, Token: token, Ack: g.s.Received(), Conn: cand.conn, Auth: auth,
		})
		if err == nil && cand.hello.SessionID != sid {
			err = engine.Protocolf("hello for another session")
		}
	}
	if err != nil {
		w.abort()
		cand.err = err
	} else {
		cand.car = w
	}
	c.offer(cand)
}

// probe opens a WebSocket resume of the live session while it runs on HTTP
// (docs/protocol.md §4, step 6) and offers the result to the supervisor.
func (c *Conn) probe(g *gen) {
	ctx, cancel := context.WithTimeout(c.ctx, c.opts.WebSocketDeadline)
	defer cancel()
	cand := &candidate{g: g, probe: true}
	auth, err := c.auth(ctx)
	if err == nil {
		sid, token := g.ids()
		cand.conn = g.conn.Add(1)
		var w *wsConn
		w, cand.hello, err = c.dialWS(ctx, g, &transport.ResumeReq{
			V: transport.Version, SessionID: sid, Token: token, Ack: g.s.Received(), Conn: cand.conn, Auth: auth,
		})
		if err == nil && cand.hello.SessionID != sid {
			w.abort()
			err = engine.Protocolf("hello for another session")
		}
		if err == nil {
			cand.car = w
		}
	}
	cand.err = err
	c.offer(cand)
}

// offer hands a candidate to the supervisor, or drops it when the Conn is ending.
func (c *Conn) offer(cand *candidate) {
	select {
	case c.cands <- cand:
	case <-c.ctx.Done():
		if cand.car != nil {
			cand.car.abort()
		}
	}
}

// hasCode reports whether err carries a close code.
func hasCode(err error) bool {
	code, _ := closeCode(err)
	return code != 0
}
