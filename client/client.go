// Package client is the Go client of Lifeline: one ordered, acknowledged, resumable
// session with a Lifeline server, carried over WebSocket, HTTP streaming or
// long-polling, whichever works (docs/protocol.md).
//
// Dial races the transports, Read and Write carry messages, and the Conn resumes the
// session on its own when a connection drops, so no message is lost or duplicated
// while the server keeps the session. When the server cannot resume it, Read returns
// a *ResetError once and the Conn carries on with a fresh session.
package client

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/lifelinehq/lifeline/closecode"
	"github.com/lifelinehq/lifeline/internal/engine"
	"github.com/lifelinehq/lifeline/session"
	"github.com/lifelinehq/lifeline/transport"
)

// closeTimeout bounds Close's wait for the session to flush and its close to go out.
const closeTimeout = 5 * time.Second

// Conn is a client session with a Lifeline server. Read, Write, Close, CloseNow and the
// accessors are safe for concurrent use; messages written by concurrent Writes go out
// in the order their calls were accepted.
type Conn struct {
	opts  Options
	mount *mount
	log   *slog.Logger

	ctx    context.Context // cancelled by CloseNow, Close, or when the session ends
	cancel context.CancelFunc
	wg     sync.WaitGroup // every goroutine of the Conn
	cands  chan *candidate

	mu        sync.Mutex
	g         *gen // the session written to
	rg        *gen // the session Read reads from: g, or one that was reset
	transport string
	answer    func(context.Context, []byte) ([]byte, error) // answers requests: OnRequest

	closing  atomic.Bool
	shutOnce sync.Once
	shut     chan struct{} // closed when the Conn is fully shut down

	stats counters
	off   offline // offline.go
}

// Stats are a Conn's counters since Dial.
type Stats struct {
	Connects  uint64 // transport connections that delivered their hello and carried the session
	Resumes   uint64 // of those, the ones that resumed the session (after a drop or a stream recycle)
	Drops     uint64 // connections lost: ended other than by the server recycling a stream
	Resets    uint64 // sessions the server could not resume
	Fallbacks uint64 // times the session settled on a transport other than the first one listed
	Upgrades  uint64 // times the session moved from an HTTP transport up to WebSocket
	BytesIn   uint64 // bytes received: WebSocket messages and HTTP response bodies
	BytesOut  uint64 // bytes sent: WebSocket messages and HTTP request bodies
}

type counters struct {
	connects, resumes, drops, resets, fallbacks, upgrades, bytesIn, bytesOut atomic.Uint64
}

// gen is one session: a reset replaces it with a fresh one.
type gen struct {
	s *engine.Session

	mu    sync.Mutex
	sid   string
	token string
	hello *transport.Hello // the last one

	conn    atomic.Uint64 // the last connection number used; 0 is the creating one
	acked   atomic.Uint64 // the highest ack from the server
	written atomic.Uint64 // messages accepted by Write

	resetting  atomic.Bool
	resetReady chan struct{} // closed once reset and next are set
	reset      *ResetError
	next       *gen
}

// newGen returns a fresh session, whose requests the current answerer answers.
func (c *Conn) newGen() *gen {
	g := &gen{s: engine.New("", "", c.opts.sessionConfig()), resetReady: make(chan struct{})}
	c.mu.Lock()
	g.s.OnRequest(c.answer)
	c.mu.Unlock()
	return g
}

// setHello records a hello of this session: the first one names it.
func (g *gen) setHello(h *transport.Hello) {
	g.mu.Lock()
	if g.sid == "" {
		g.sid, g.token = h.SessionID, h.Token
	}
	g.hello = h
	g.mu.Unlock()
}

// ids returns the session id and token, "" before the first hello.
func (g *gen) ids() (string, string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.sid, g.token
}

// maxMessage is the server's message limit, 0 before the first hello.
func (g *gen) maxMessage() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.hello == nil {
		return 0
	}
	return g.hello.MaxMessage
}

// ack processes a cumulative ack from the server.
func (g *gen) ack(n uint64) error {
	if err := g.s.Acked(n); err != nil {
		return err
	}
	g.noteAck(n)
	return nil
}

// noteAck records an ack the session has processed.
func (g *gen) noteAck(n uint64) {
	for {
		old := g.acked.Load()
		if n <= old || g.acked.CompareAndSwap(old, n) {
			return
		}
	}
}

// Dial connects to the Lifeline server mounted at url (http, https, ws or wss) and
// returns once a transport works (its hello arrived) and the new session is
// confirmed. ctx bounds the dial only. When every transport failed in a way that may
// not recur (a connection cut during its handshake, say), Dial races them again after
// a backoff until ctx ends; a refused connection, an unknown host, an HTTP error from
// something that is not a Lifeline server, or a close code that says stop or reset
// fails it at once. opts may be nil.
func Dial(ctx context.Context, url string, opts *Options) (*Conn, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	m, err := parseMount(url)
	if err != nil {
		return nil, err
	}
	c := &Conn{opts: o, mount: m, log: o.Logger, cands: make(chan *candidate), shut: make(chan struct{}),
		answer: o.OnRequest}
	c.off.init()
	c.ctx, c.cancel = context.WithCancel(context.WithoutCancel(ctx))
	g := c.newGen()
	c.g, c.rg = g, g
	// A race whose attempts all failed is run again, after a backoff, while a failure
	// may not recur (a connection cut during its handshake, say) and ctx allows: a
	// dial succeeds whenever an attempt can. A refused connection or a close code
	// that says stop or reset fails it at once.
	bo := backoff{min: o.BackoffMin, max: o.BackoffMax}
	lv, lateWS, err := c.create(ctx, g)
	for err != nil && ctx.Err() == nil && transient(err) && sleep(ctx, bo.next(), nil) {
		c.log.Debug("lifeline: dial failed, retrying", "err", err)
		lv, lateWS, err = c.create(ctx, g)
	}
	if err != nil {
		c.cancel()
		c.wg.Wait()
		if ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
			err = errors.Join(ctx.Err(), err)
		}
		return nil, fmt.Errorf("lifeline: dial %s: %w", url, err)
	}
	sup := &supervisor{c: c, g: g, cur: lv, probeDelay: o.ReprobeMin}
	if lateWS {
		sup.inflight++
	}
	c.wg.Add(1)
	go sup.run()
	return c, nil
}

// current returns the session written to.
func (c *Conn) current() *gen {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.g
}

// Read returns the next message. It blocks until one arrives, the session ends
// (a *session.CloseError with its code, after every message received before the end),
// or ctx is done. When the server could not resume the session, Read returns a
// *ResetError once, then goes on with the fresh session. When the server has been
// unreachable for Options.OfflineAfter, Read returns an *OfflineError once (after the
// messages already received), then goes on waiting. The payload is the caller's.
func (c *Conn) Read(ctx context.Context) (session.MessageType, []byte, error) {
	for {
		c.mu.Lock()
		g := c.rg
		c.mu.Unlock()
		rctx, cancel := context.WithCancel(ctx)
		stop := context.AfterFunc(c.off.waker(), cancel)
		typ, p, err := g.s.Read(rctx)
		stop()
		cancel()
		if errors.Is(err, context.Canceled) && ctx.Err() == nil && rctx.Err() != nil {
			if oe := c.off.report(); oe != nil {
				return 0, nil, oe
			}
			continue // a spell reported already, or over
		}
		if err == nil || ctx.Err() != nil || !g.resetting.Load() {
			return typ, p, err
		}
		<-g.resetReady
		c.mu.Lock()
		if c.rg == g {
			c.rg = g.next
			c.mu.Unlock()
			return 0, nil, g.reset
		}
		c.mu.Unlock()
	}
}

// Write sends a message of type typ (session.Text, which must be UTF-8, or
// session.Binary); p is copied. It returns once the message is queued: it blocks
// while the replay buffer is full (Options.MaxQueuedBytes), until the server
// acknowledges, the session ends, or ctx is done. A message over the server's limit
// fails with session.ErrTooLarge, a text message that is not UTF-8 with an error
// matching engine.ErrProtocol. While the server has been unreachable for
// Options.OfflineAfter, Write queues nothing and returns an *OfflineError; one that
// was waiting for room returns it too.
func (c *Conn) Write(ctx context.Context, typ session.MessageType, p []byte) error {
	if typ == session.Text && !utf8.Valid(p) {
		return fmt.Errorf("lifeline: text message is not UTF-8: %w", engine.ErrProtocol)
	}
	if oe := c.off.current(); oe != nil {
		return oe
	}
	for {
		c.mu.Lock()
		g := c.g
		c.mu.Unlock()
		if lim := g.maxMessage(); lim > 0 && len(p) > lim {
			return session.ErrTooLarge
		}
		wctx, cancel := context.WithCancel(ctx)
		stop := context.AfterFunc(c.off.writeWaker(), cancel)
		err := g.s.Write(wctx, typ, p)
		if err == nil {
			g.written.Add(1)
		}
		stop()
		cancel()
		if errors.Is(err, context.Canceled) && ctx.Err() == nil && wctx.Err() != nil {
			if oe := c.off.current(); oe != nil {
				return oe
			}
			continue // the spell is over already
		}
		if err == nil || !g.resetting.Load() || ctx.Err() != nil {
			return err
		}
		// The session was reset while the write waited: write to the fresh one.
	}
}

// Close closes the session gracefully: messages already written are delivered first
// (waiting at most 5 s for the server to acknowledge them), then the server is told
// code and reason, and every goroutine of the Conn ends. Read returns the messages
// already received, then a *session.CloseError. Close may be called more than once;
// later calls wait for the first to finish.
func (c *Conn) Close(code closecode.Code, reason string) error {
	if !c.closing.CompareAndSwap(false, true) {
		<-c.shut
		return nil
	}
	c.mu.Lock()
	g := c.g
	c.mu.Unlock()
	g.s.Close(code, reason)
	t := time.NewTimer(closeTimeout)
	defer t.Stop()
	var err error
	select {
	case <-g.s.Done():
	case <-t.C:
		err = errors.New("lifeline: close timed out before the server acknowledged everything")
	}
	c.shutdown(code, reason)
	return err
}

// CloseNow ends the Conn at once: connections are dropped without telling the server
// (which expires the session after its resume window), blocked calls return, and no
// goroutine of the Conn is left when it returns. It may be called more than once.
func (c *Conn) CloseNow() error {
	c.closing.Store(true)
	c.shutdown(closecode.Normal, "")
	return nil
}

// shutdown ends the session locally, stops every goroutine and waits for them.
func (c *Conn) shutdown(code closecode.Code, reason string) {
	c.shutOnce.Do(func() {
		c.mu.Lock()
		g := c.g
		c.mu.Unlock()
		g.s.CloseNow(code, reason)
		c.cancel()
		c.wg.Wait()
		c.mu.Lock()
		g = c.g // a reset may have replaced it meanwhile
		c.mu.Unlock()
		g.s.CloseNow(code, reason)
		close(c.shut)
	})
	<-c.shut
}

// Transport returns the name of the transport carrying the session: "websocket",
// "stream" or "poll".
func (c *Conn) Transport() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.transport
}

// SessionID returns the public id of the current session; it changes after a reset,
// and is "" while a fresh session is being created.
func (c *Conn) SessionID() string {
	c.mu.Lock()
	g := c.g
	c.mu.Unlock()
	sid, _ := g.ids()
	return sid
}

// Stats returns the Conn's counters.
func (c *Conn) Stats() Stats {
	s := &c.stats
	return Stats{
		Connects: s.connects.Load(), Resumes: s.resumes.Load(), Drops: s.drops.Load(), Resets: s.resets.Load(),
		Fallbacks: s.fallbacks.Load(), Upgrades: s.upgrades.Load(),
		BytesIn: s.bytesIn.Load(), BytesOut: s.bytesOut.Load(),
	}
}

// auth asks Options.Auth for credentials, or returns "".
func (c *Conn) auth(ctx context.Context) (string, error) {
	if c.opts.Auth == nil {
		return "", nil
	}
	a, err := c.opts.Auth(ctx)
	if err != nil {
		return "", fmt.Errorf("lifeline: credentials: %w", err)
	}
	return a, nil
}

// Request sends p to the server as a request and returns its reply (docs/protocol.md
// §16). The request travels in the session's ordered, exactly-once stream like a
// message, so the server answers it once, across cuts and transport changes. Request
// blocks while the replay buffer is full, then until the reply arrives. It fails with
// ctx.Err() when ctx is done first (a later reply is ignored), a *session.RequestError
// when the server answered with an error, a *session.CloseError when the session ends
// first, session.ErrTooLarge over the server's message limit and session.ErrNotUTF8
// when p is not UTF-8. When the server could not resume the session (a reset), a
// request that had gone out on it fails with the *ResetError that Read returns
// (errors.Is(err, ErrReset)); one still queued goes on the fresh session.
func (c *Conn) Request(ctx context.Context, p []byte) ([]byte, error) {
	for {
		g := c.current()
		r, err := g.s.RequestWithin(ctx, p, g.maxMessage())
		if err == nil || ctx.Err() != nil || !g.resetting.Load() {
			return r, err
		}
		<-g.resetReady
		var ns *engine.NotSentError
		if !errors.As(err, &ns) {
			return nil, g.reset
		}
		// Never sent on the lost session: ask again on the fresh one.
	}
}

// OnRequest sets the function that answers the server's requests (docs/protocol.md
// §16), for this session and the fresh ones after a reset; nil removes it. Until it is
// set, requests are answered with an error, "no request handler": set
// Options.OnRequest to answer from the start. Each request runs fn on a goroutine of
// its own, at most 16 at a time (more wait, in order); ctx ends when the session ends
// (Close, CloseNow, a reset), and fn should return then. fn's reply goes back to the
// server; an error goes back as a *session.RequestError with err.Error() (cut to 1024
// bytes).
func (c *Conn) OnRequest(fn func(ctx context.Context, req []byte) ([]byte, error)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.answer = fn
	c.g.s.OnRequest(fn) // under c.mu: a reset's fresh session gets the same (see reset)
}
