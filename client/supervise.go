package client

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"time"

	"github.com/lifelinehq/lifeline/closecode"
	"github.com/lifelinehq/lifeline/internal/engine"
	"github.com/lifelinehq/lifeline/session"
	"github.com/lifelinehq/lifeline/transport"
)

// live is a running transport connection carrying the session.
type live struct {
	name string
	car  carrier
	done chan struct{} // closed when run has returned
	err  error         // why it ended, once done
}

// stop drops the connection and waits for its goroutines.
func (lv *live) stop() {
	lv.car.abort()
	<-lv.done
}

// start attaches a connection whose hello arrived to g's session, numbered conn, and
// runs it.
func (c *Conn) start(g *gen, name string, conn uint64, car carrier, h *transport.Hello) (*live, error) {
	g.setHello(h)
	l, _, err := g.s.Attach(name, conn, h.Ack, name != namePoll)
	if err != nil {
		return nil, err
	}
	l.Told(car.acked())
	g.noteAck(h.Ack)
	c.mu.Lock()
	prev := c.transport
	c.transport = name
	c.mu.Unlock()
	c.stats.connects.Add(1)
	order := c.opts.Transports
	switch rank, was := slices.Index(order, name), slices.Index(order, prev); {
	case prev == "" && rank > 0, prev != "" && rank > was:
		c.stats.fallbacks.Add(1)
	case prev != "" && rank < was:
		c.stats.upgrades.Add(1)
	}
	if name != prev {
		c.log.Debug("lifeline: transport", "transport", name, "session", h.SessionID, "conn", conn)
	}
	lv := &live{name: name, car: car, done: make(chan struct{})}
	in := newInbound(g)
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		lv.err = car.run(l, in)
		l.Detach()
		close(lv.done)
	}()
	return lv, nil
}

// reset replaces g, whose session the server could not resume, with a fresh session,
// and prepares the ResetError that Read returns once (g's unread messages first).
func (c *Conn) reset(g *gen, code closecode.Code, reason string) *gen {
	ng := c.newGen()
	g.next = ng
	g.resetting.Store(true)
	c.mu.Lock()
	c.g = ng
	ng.s.OnRequest(c.answer) // an OnRequest since newGen
	c.mu.Unlock()
	g.s.PeerClosed(code, reason)
	g.reset = &ResetError{Code: code, Reason: reason, Unsent: g.s.UnackedMessages()}
	close(g.resetReady)
	c.stats.resets.Add(1)
	sid, _ := g.ids()
	c.log.Info("lifeline: session reset", "session", sid, "code", code, "reason", reason, "unsent", g.reset.Unsent)
	return ng
}

// supervisor is the goroutine that keeps the session connected: it watches the
// current connection, resumes or resets when it ends, re-probes WebSocket while on
// HTTP and lets a WebSocket that delivered its hello take over.
type supervisor struct {
	c          *Conn
	g          *gen
	cur        *live // nil while reconnecting
	inflight   int   // WebSocket probes and late race WebSockets under way
	probeDelay time.Duration
	probeTimer *time.Timer
	lost       int // WebSockets that lost the session to a newer connection of ours since one carried it
	// faults spaces resumes after what the client found wrong itself (errors.go, local)
	// while such faults come one after another.
	faults backoff
}

// lostRetry is how soon a WebSocket that worked but lost the session to the client's
// own newer connection is tried again (docs/protocol.md §4, step 6).
const lostRetry = 50 * time.Millisecond

func (s *supervisor) run() {
	c := s.c
	defer c.wg.Done()
	defer func() {
		if s.probeTimer != nil {
			s.probeTimer.Stop()
		}
		if s.cur != nil {
			// A graceful close ends its connection by itself: give it a moment.
			t := time.NewTimer(time.Second)
			select {
			case <-s.cur.done:
			case <-t.C:
			}
			t.Stop()
			s.cur.stop()
		}
		c.cancel()
	}()
	for {
		var probe <-chan time.Time
		if s.armProbe() {
			probe = s.probeTimer.C
		}
		select {
		case <-s.g.s.Done():
			return
		case <-c.ctx.Done():
			return
		case cand := <-c.cands:
			s.take(cand)
		case <-probe:
			s.probeTimer = nil
			s.inflight++
			g := s.g
			c.wg.Add(1)
			go func() {
				defer c.wg.Done()
				c.probe(g)
			}()
		case <-s.cur.done:
			if s.g.s.Err() != nil || !s.recover(s.cur.err) {
				return
			}
		}
	}
}

// armProbe keeps the re-probe timer running while the session is on a transport
// ranked below WebSocket and no WebSocket is under way; it reports whether it runs.
func (s *supervisor) armProbe() bool {
	order := s.c.opts.Transports
	ws := slices.Index(order, nameWebSocket)
	want := ws >= 0 && s.inflight == 0 && slices.Index(order, s.cur.name) > ws
	switch {
	case want && s.probeTimer == nil:
		s.probeTimer = time.NewTimer(s.probeDelay)
	case !want && s.probeTimer != nil:
		s.probeTimer.Stop()
		s.probeTimer = nil
	}
	return want
}

// take lets a candidate WebSocket carry the session; it reports whether it did.
func (s *supervisor) take(cand *candidate) bool {
	c := s.c
	s.inflight--
	if cand.err != nil {
		if code, _ := closeCode(cand.err); code == closecode.Superseded {
			s.lostRace() // the server gave the session to a newer connection of ours
		} else if cand.probe {
			s.probeDelay = min(2*s.probeDelay, c.opts.ReprobeMax)
		}
		c.log.Debug("lifeline: websocket probe failed", "err", cand.err)
		return false
	}
	if cand.g != s.g || (s.cur != nil && s.cur.name == nameWebSocket) {
		cand.car.abort()
		return false
	}
	lv, err := c.start(s.g, nameWebSocket, cand.conn, cand.car, cand.hello)
	if err != nil { // a newer connection took the session meanwhile
		cand.car.abort()
		s.lostRace()
		return false
	}
	if s.cur != nil {
		s.cur.stop()
	}
	s.cur = lv
	s.probeDelay, s.lost = c.opts.ReprobeMin, 0
	return true
}

// lostRace follows a WebSocket that worked but lost the session to a newer connection
// of this client (a stream recycled while the WebSocket's R was under way, which the
// server then superseded): the WebSocket is tried again after lostRetry, doubling for
// each loss in a row, rather than after the re-probe interval.
func (s *supervisor) lostRace() {
	s.lost = min(s.lost+1, 10)
	s.probeDelay = min(lostRetry<<(s.lost-1), s.c.opts.ReprobeMin)
}

// recover handles the end of the current connection (docs/protocol.md §4, §7): resume,
// on the transport that last worked and then down the order, with backoff between
// failed attempts; reset to a fresh session; or stop. It reports whether a connection
// carries the session again. Past Options.OfflineAfter without one, the Conn is
// offline (offline.go) until one does.
func (s *supervisor) recover(err error) (online bool) {
	c := s.c
	clock := c.watchOffline(err)
	defer func() { clock.stop(online) }()
	order := c.opts.Transports
	idx := max(slices.Index(order, s.cur.name), 0)
	s.cur = nil
	// A connection superseded while a WebSocket is under way was most likely taken over
	// by it. That is no drop, nor is a recycled stream; a failed takeover is counted
	// below.
	code0, _ := closeCode(err)
	handover := s.inflight > 0 && code0 == closecode.Superseded
	if !errors.Is(err, errStreamEnd) && !handover {
		c.stats.drops.Add(1)
	}
	bo := backoff{min: c.opts.BackoffMin, max: c.opts.BackoffMax}
	fresh := false // no session on the server yet: create one
	s.faults.min, s.faults.max = c.opts.BackoffMin, c.opts.BackoffMax
	if !local(err) {
		s.faults.reset()
	} else if !s.pause(s.faults.next()) {
		return false
	} else if s.cur != nil {
		return true // a WebSocket under way took the session over meanwhile
	}
	for first := true; ; first = false {
		if c.ctx.Err() != nil || s.g.s.Err() != nil {
			return false
		}
		act, code, reason := action(err)
		wait := !first
		if errors.Is(err, errSilent) || errors.Is(err, context.DeadlineExceeded) {
			// Pooled keep-alive connections on the same path are likely dead too.
			c.opts.HTTPClient.CloseIdleConnections()
		}
		switch act {
		case closecode.Stop:
			s.stop(err, code, reason)
			return false
		case closecode.Reset:
			if c.closing.Load() {
				s.stop(err, code, reason)
				return false
			}
			if !fresh {
				s.g = c.reset(s.g, code, reason)
				fresh = true
			}
			wait = wait || code == closecode.TooMany || code == closecode.Shutdown
		default:
			if first && handover {
				// A WebSocket under way took the session over: hear it first. (A stream
				// that ends without a frame was recycled: resume at once, or a hanging
				// WebSocket would stall the session until its deadline.)
				if s.await() {
					return true // an upgrade
				}
				c.stats.drops.Add(1)
				if c.ctx.Err() != nil || s.g.s.Err() != nil {
					return false
				}
			}
		}
		if wait && !s.pause(bo.next()) {
			return false
		}
		if s.cur != nil {
			return true
		}
		if err = s.attempt(fresh, order, &idx); err == nil {
			return true
		}
		c.log.Debug("lifeline: reconnect failed", "err", err)
		clock.note(err)
	}
}

// attempt makes one reconnection: a fresh session when fresh, else a resume on
// order[*idx], moving *idx down the list when that fails.
func (s *supervisor) attempt(fresh bool, order []string, idx *int) error {
	var lv *live
	var err error
	if fresh {
		var late bool
		lv, late, err = s.c.create(s.c.ctx, s.g)
		if late {
			s.inflight++
		}
	} else if lv, err = s.resume(order[*idx]); err != nil {
		*idx = (*idx + 1) % len(order)
	}
	if err == nil {
		s.cur = lv
	}
	return err
}

// resume opens a connection on the named transport that resumes the session.
func (s *supervisor) resume(name string) (*live, error) {
	c, g := s.c, s.g
	timeout := c.opts.ConnectTimeout
	if name == nameWebSocket {
		timeout = c.opts.WebSocketDeadline
	}
	ctx, cancel := context.WithTimeout(c.ctx, timeout)
	defer cancel()
	auth, err := c.auth(ctx)
	if err != nil {
		return nil, err
	}
	sid, token := g.ids()
	conn := g.conn.Add(1)
	car, h, err := c.open(ctx, name, g, &transport.ResumeReq{
		V: transport.Version, SessionID: sid, Token: token, Ack: g.s.Received(), Conn: conn, Auth: auth,
	})
	if err != nil {
		return nil, err
	}
	if h.SessionID != sid {
		car.abort()
		return nil, engine.Protocolf("hello for another session")
	}
	lv, err := c.start(g, name, conn, car, h)
	if err != nil {
		car.abort()
		return nil, err
	}
	c.stats.resumes.Add(1)
	return lv, nil
}

// pause waits d before the next attempt. A candidate WebSocket of the session may take
// it over meanwhile (s.cur is then set). It reports false when the session or the Conn
// ended.
func (s *supervisor) pause(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			return true
		case <-s.c.ctx.Done():
			return false
		case <-s.g.s.Done():
			return false
		case cand := <-s.c.cands:
			if s.take(cand) {
				return true
			}
		}
	}
}

// await waits for the WebSockets under way; it reports whether one took over.
func (s *supervisor) await() bool {
	for s.inflight > 0 {
		select {
		case cand := <-s.c.cands:
			if s.take(cand) {
				return true
			}
		case <-s.c.ctx.Done():
			return false
		case <-s.g.s.Done():
			return false
		}
	}
	return false
}

// stop ends the session with a close code: the server's, 4413 for a message over the
// client's own limit, or the client's own when it is closing.
func (s *supervisor) stop(err error, code closecode.Code, reason string) {
	var ce *session.CloseError
	level := slog.LevelInfo
	if s.c.closing.Load() {
		// Closing: the server most likely ended the session on our close frame, and the
		// connection failed before it said so. Close keeps its own code. Routine: Debug.
		s.g.s.CloseNow(code, reason)
		level = slog.LevelDebug
	} else if errors.As(err, &ce) && ce.Remote {
		s.g.s.PeerClosed(code, reason)
	} else {
		s.g.s.CloseNow(code, reason)
	}
	sid, _ := s.g.ids()
	s.c.log.Log(context.Background(), level, "lifeline: session stopped", "session", sid, "code", code, "reason", reason)
}
