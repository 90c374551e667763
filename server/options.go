package server

import (
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/lifelinehq/lifeline/internal/engine"
)

// Options configure a Server. A nil *Options and the zero value both work; every
// field documents its default (docs/protocol.md §6 and §8 list the same numbers).
type Options struct {
	// Logger receives a line for every refused request and ended session.
	// Default: slog.Default().
	Logger *slog.Logger

	// OriginPatterns lists host patterns (path.Match syntax, like "*.example.com" or
	// "localhost:8080") of the other origins allowed to use the server. The request's
	// own host is always allowed; requests without Origin (non-browser clients) are
	// allowed. Default: none.
	OriginPatterns []string

	// Authenticate runs when a session is created and again on every resume. It sees
	// the request (cookies, headers) and the credentials the client sent (the R frame's
	// "auth" or the Lifeline-Auth header; "" if none). A non-nil error refuses: 401 or
	// close code 4401 at creation, 4440 (ending the session) on resume. The identity it
	// returns is what Session.Identity reports. Default: every request is accepted with
	// a nil identity.
	Authenticate func(r *http.Request, credentials string) (identity any, err error)

	// Heartbeat is how long a connection may carry nothing from the server before it
	// sends a heartbeat, and how long a poll is held. Default 15 s.
	Heartbeat time.Duration
	// HeartbeatTimeout is added to Heartbeat to give how long the server waits without
	// hearing from the client before it drops a connection. Default 10 s.
	HeartbeatTimeout time.Duration
	// ResumeWindow is how long a session survives with no connection. Default 60 s.
	ResumeWindow time.Duration
	// HandshakeTimeout bounds the wait for a WebSocket's first frame and for a new
	// session's confirmation. Default 10 s.
	HandshakeTimeout time.Duration

	// MaxMessageBytes bounds one message. Default 65536.
	MaxMessageBytes int
	// MaxBatchFrames bounds the frames in one POSTed batch and in one poll response.
	// Default 100.
	MaxBatchFrames int
	// MaxBodyBytes bounds one POSTed body. Default 1 MiB.
	MaxBodyBytes int
	// MaxQueuedBytes bounds each session's queue in each direction. Default 1 MiB.
	MaxQueuedBytes int
	// QueuedBytesBudget bounds the payload bytes all sessions hold queued together,
	// in both directions (Stats.QueuedIn plus Stats.QueuedOut; a broadcast payload
	// counts once for each session that holds it). Once it is reached a message waits
	// to be queued until bytes are freed (the handler reads, a client acknowledges, a
	// session ends): a WebSocket is not read further, so its client's TCP window
	// closes; an HTTP send is held at most a heartbeat, and what did not fit is not
	// acknowledged (the client sends it again); Write blocks; TryWrite and broadcasts
	// find the queue full (a broadcast then ends the sessions it cannot reach with
	// 4507). What one session can make the server hold is thus bounded by
	// 2×MaxQueuedBytes, plus one message being read and a connection's buffers
	// (BenchmarkWorstCaseSession measures it), and what all can by this budget.
	// Default 1 GiB; negative: no budget.
	QueuedBytesBudget int64
	// MaxSessions bounds the sessions this server holds. Default 10000.
	MaxSessions int

	// Admission (docs/security.md): what one client may hold, so that a flood from one
	// address cannot deny everyone else. A client is the address the request comes
	// from: an IPv4 address, or an IPv6 /64 (what one subscriber usually holds whole).
	// A loopback peer that TrustedProxies does not list is not limited per client: it
	// is a local proxy, whose clients all share its address, or a local test. Refusals
	// are 429 or close code 4429, with Retry-After.

	// MaxSessionsPerClient bounds the sessions one client holds, confirmed or not.
	// Behind a NAT many users share one address: raise it there. Default 100;
	// negative: no limit.
	MaxSessionsPerClient int
	// MaxUnconfirmedPerClient bounds one client's unconfirmed sessions: created, but
	// not yet named by a later request or frame (docs/protocol.md §3). A client's
	// transport race leaves at most two such sessions behind for HandshakeTimeout.
	// Default 16; negative: no limit.
	MaxUnconfirmedPerClient int
	// MaxUnconfirmed bounds the unconfirmed sessions of all clients together, so that
	// bare GET poll or stream requests from many addresses cannot fill MaxSessions.
	// Default MaxSessions/10 (1000), at least 100; negative: no limit.
	MaxUnconfirmed int
	// TrustedProxies lists the networks of the reverse proxies in front of the server
	// (for example netip.MustParsePrefix("10.0.0.0/8")). For a request whose peer is
	// in one of them, the client is the rightmost address of X-Forwarded-For that is
	// not itself in one (what lies left of it was written by the client and proves
	// nothing); for every other request X-Forwarded-For is ignored. Behind a proxy
	// that is not listed, every client shares the proxy's address, and so its
	// per-client limits. Default: none.
	TrustedProxies []netip.Prefix
	// StreamBytes is how much one streaming response carries before it ends and the
	// client reopens it. Default 128 KiB.
	StreamBytes int

	// PollMinHold is the shortest the server holds a poll once it has learned that
	// something between it and the client cuts held polls (a load balancer's request
	// timeout): a held poll that is cut and followed by another poll of the session
	// makes the session's polls held three quarters as long as the cut one, but never
	// under PollMinHold (docs/protocol.md §6). Default 1 s.
	PollMinHold time.Duration

	// ShutdownDrain is how long Shutdown, once every session has ended, keeps
	// answering requests that name a session with 503, close code 4503 and
	// Retry-After, so that a polling or streaming client that had no request open
	// learns the server is going (docs/protocol.md §13). Shutdown returns sooner once
	// every such client has been told. Default 3 s; negative: no drain.
	ShutdownDrain time.Duration

	// Router says, for each request that names a session, whether this node owns
	// the session and, if not, relays the request to the node that does: the seam of a
	// cluster. Default: one node, every session in this process.
	Router Router
	// Broker carries broadcasts to the other nodes of a cluster (broker.go). A
	// Router that is also a Broker (cluster.Cluster) is used as one when Broker is
	// nil. Default: one node, nothing published.
	Broker Broker

	// Inspect turns on the inspector: a live page at {mount}/inspect showing the
	// sessions, groups, recent closes and traffic, updated every second over a
	// Lifeline session of its own (at {mount}/inspect/ll, not counted in Stats). It
	// runs on every request to the inspector, the page's own Lifeline requests
	// included (so a cookie or header it checks must come with them): false refuses
	// with 403. It must be safe for concurrent use. Default nil: no inspector (404).
	Inspect func(r *http.Request) bool
}

func (o *Options) withDefaults() Options {
	var c Options
	if o != nil {
		c = *o
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	engine.Default(&c.Heartbeat, 15*time.Second)
	engine.Default(&c.HeartbeatTimeout, 10*time.Second)
	engine.Default(&c.ResumeWindow, 60*time.Second)
	engine.Default(&c.HandshakeTimeout, 10*time.Second)
	engine.Default(&c.PollMinHold, time.Second)
	if c.ShutdownDrain == 0 {
		c.ShutdownDrain = 3 * time.Second
	}
	// Limits that a negative value turns off: zero takes the default.
	defl := func(d *int, v int) {
		if *d == 0 {
			*d = v
		}
	}
	engine.Default(&c.MaxMessageBytes, 65536)
	engine.Default(&c.MaxBatchFrames, 100)
	engine.Default(&c.MaxBodyBytes, 1<<20)
	engine.Default(&c.MaxQueuedBytes, 1<<20)
	engine.Default(&c.MaxSessions, 10000)
	if c.QueuedBytesBudget == 0 {
		c.QueuedBytesBudget = 1 << 30
	}
	defl(&c.MaxSessionsPerClient, 100)
	defl(&c.MaxUnconfirmedPerClient, 16)
	defl(&c.MaxUnconfirmed, max(c.MaxSessions/10, 100))
	engine.Default(&c.StreamBytes, 128<<10)
	if c.Router == nil {
		c.Router = local{}
	}
	if c.Broker == nil {
		if b, ok := c.Router.(Broker); ok {
			c.Broker = b
		} else {
			c.Broker = noBroker{}
		}
	}
	return c
}

// sessionConfig is the configuration of every session; its Budget is shared.
func (o *Options) sessionConfig() engine.Config {
	c := engine.Config{
		MaxMessage:       o.MaxMessageBytes,
		MaxQueued:        o.MaxQueuedBytes,
		ResumeWindow:     o.ResumeWindow,
		HandshakeTimeout: o.HandshakeTimeout,
		HoldRequests:     true, // requests wait for the handler's OnRequest
	}
	if o.QueuedBytesBudget > 0 {
		c.Budget = engine.NewBudget(o.QueuedBytesBudget)
	}
	return c
}
