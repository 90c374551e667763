// Package cluster runs Lifeline on many nodes behind any load balancer, sticky or
// not, over NATS (docs/cluster.md). A session lives on the node that created it (its
// owner), whose name is the first part of the session id; a request that lands on
// another node is relayed to the owner over NATS, on every transport, and broadcasts
// reach the members of every node:
//
//	nc, err := nats.Connect(url) // credentials and TLS are nats.go's options
//	cl, err := cluster.New(nc, cluster.Options{Node: "a"})
//	srv := server.New(h, &server.Options{Router: cl})
//
// It is the only Lifeline package that imports NATS: a single-node server never
// loads it.
package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"

	"github.com/lifelinehq/lifeline/server"
	"github.com/lifelinehq/lifeline/session"
)

// Options configure a Cluster. Node is required; every other field documents its
// default.
type Options struct {
	// Node names this node: unique in the cluster, 1 to 64 of the characters
	// A-Z a-z 0-9 _ -, so that it is safe in a NATS subject and a session id. A node
	// that restarts under the same name answers the sessions of its previous life as
	// unknown, so that their clients reset.
	Node string
	// Prefix starts every subject this package uses: Prefix.<node>.> for the
	// requests relayed to a node and Prefix.broadcast for broadcasts. Dot-separated
	// tokens of the same characters as Node. Default "lifeline".
	Prefix string
	// Probe is how often each side of a long relayed request (a held poll, a
	// stream, a WebSocket) asks NATS whether the other side is still there, and
	// ProbeTimeout how long it waits for the answer. A node that is gone is known at
	// once for a new request (NATS answers "no responders"); for a request under way,
	// within Probe+ProbeTimeout. Defaults 3 s and 2 s.
	Probe, ProbeTimeout time.Duration
	// ReconnectGrace is how long after this node's NATS connection reconnects (a NATS
	// server restart) "no responders" is not yet believed: the other nodes may not
	// have resubscribed yet, and believing it would reset their sessions. Within the
	// grace the request is retried every 250 ms. Default 5 s.
	ReconnectGrace time.Duration
	// Logger receives a line for each relay that fails. Default: slog.Default().
	Logger *slog.Logger
}

// Cluster is a server.Router and server.Broker over one NATS connection: give it to
// server.New as Options.Router (it is then the Broker too; a Server whose
// Options.Broker is something else never starts the Cluster, whose relayed requests
// then answer "unknown session"). One Cluster serves one Server. It is safe for
// concurrent use. Close stops it; it does not close the connection.
type Cluster struct {
	nc   *nats.Conn
	o    Options
	log  *slog.Logger
	base string // Prefix.Node.
	all  string // Prefix.broadcast

	subs []*nats.Subscription

	started atomic.Bool
	node    http.Handler
	deliver func(group string, typ session.MessageType, data []byte) int
	members func(group string) []string // the Server's Members
	known   map[string]struct{}         // the other nodes (members.go)

	n      atomic.Uint64 // flow numbers
	mu     sync.Mutex
	flows  map[string]*flow              // this node's flows by subject
	served map[string]context.CancelFunc // requests served for other nodes, by relay flow subject
	relays sync.Map                      // owner node name to *relay

	ctx    context.Context // done on Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // goroutines serving relays

	stats counters

	reconnectedAt  atomic.Int64  // unix nanoseconds
	seenReconnects atomic.Uint64 // nc's reconnect count when last looked at
	prevReconnect  nats.ConnHandler
}

// New joins the cluster over nc as opts.Node. The connection's credentials, TLS and
// reconnect settings are the caller's. New chains a ReconnectedCB onto nc (the one
// set before New still runs).
func New(nc *nats.Conn, opts Options) (*Cluster, error) {
	if nc == nil {
		return nil, errors.New("lifeline/cluster: nil NATS connection")
	}
	if err := validName(opts.Node); err != nil {
		return nil, fmt.Errorf("lifeline/cluster: node name: %w", err)
	}
	if opts.Prefix == "" {
		opts.Prefix = "lifeline"
	}
	for _, tok := range strings.Split(opts.Prefix, ".") {
		if err := validName(tok); err != nil {
			return nil, fmt.Errorf("lifeline/cluster: prefix %q: %w", opts.Prefix, err)
		}
	}
	if opts.Probe < 0 || opts.ProbeTimeout < 0 || opts.ReconnectGrace < 0 {
		return nil, errors.New("lifeline/cluster: negative duration")
	}
	if opts.Probe == 0 {
		opts.Probe = 3 * time.Second
	}
	if opts.ProbeTimeout == 0 {
		opts.ProbeTimeout = 2 * time.Second
	}
	if opts.ReconnectGrace == 0 {
		opts.ReconnectGrace = 5 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if !nc.HeadersSupported() {
		return nil, errors.New("lifeline/cluster: the NATS server does not support headers (no responders needs 2.2 or later)")
	}
	c := &Cluster{nc: nc, o: opts, log: opts.Logger,
		base: opts.Prefix + "." + opts.Node + ".", all: opts.Prefix + ".broadcast",
		flows: make(map[string]*flow), served: make(map[string]context.CancelFunc), known: make(map[string]struct{})}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	for _, s := range []struct {
		subj string
		fn   nats.MsgHandler
	}{{c.base + ">", c.dispatch}, {c.all, c.receiveBroadcast}, {opts.Prefix + ".hello", c.receiveHello}} {
		sub, err := nc.Subscribe(s.subj, s.fn)
		if err == nil {
			// The one subscription carries every relayed frame to this node: bound
			// it generously; beyond, NATS drops messages and the flows that lose one
			// end (their clients resume).
			err = sub.SetPendingLimits(1<<20, 256<<20)
		}
		if err != nil {
			c.unsubscribe()
			return nil, fmt.Errorf("lifeline/cluster: subscribe %s: %w", s.subj, err)
		}
		c.subs = append(c.subs, sub)
	}
	if err := c.hello(); err != nil {
		c.unsubscribe()
		return nil, fmt.Errorf("lifeline/cluster: %w", err)
	}
	if err := nc.Flush(); err != nil { // the subscriptions are in place when New returns
		c.unsubscribe()
		return nil, fmt.Errorf("lifeline/cluster: %w", err)
	}
	c.prevReconnect = nc.ReconnectHandler()
	c.seenReconnects.Store(nc.Stats().Reconnects)
	nc.SetReconnectHandler(func(conn *nats.Conn) {
		c.reconnectedAt.Store(time.Now().UnixNano())
		if c.prevReconnect != nil {
			c.prevReconnect(conn)
		}
	})
	return c, nil
}

// validName checks a node name or subject token.
func validName(s string) error {
	if s == "" || len(s) > 64 {
		return errors.New("must be 1 to 64 characters")
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return fmt.Errorf("%q: only A-Z a-z 0-9 _ - are allowed", s)
		}
	}
	return nil
}

func (c *Cluster) unsubscribe() {
	for _, s := range c.subs {
		s.Unsubscribe()
	}
}

// Node returns this node's name.
func (c *Cluster) Node() string { return c.o.Node }

// NewID returns "<node>.<uuid>": the owner is in the id, so finding it costs nothing.
func (c *Cluster) NewID() string { return c.o.Node + "." + uuid.NewString() }

// Owner returns the node named in a session id, or "" if the id names none.
func Owner(id string) string {
	node, _, ok := strings.Cut(id, ".")
	if !ok || validName(node) != nil {
		return ""
	}
	return node
}

// Relay returns nil for this node's sessions and for ids that name no node (the
// Server answers those as unknown), and otherwise the relay to the owner.
func (c *Cluster) Relay(id string) server.Relay {
	node := Owner(id)
	if node == "" || node == c.o.Node {
		return nil
	}
	if rl, ok := c.relays.Load(node); ok {
		return rl.(*relay)
	}
	rl, _ := c.relays.LoadOrStore(node, &relay{c: c, owner: c.o.Prefix + "." + node + "."})
	return rl.(*relay)
}

// Start is called by server.New (server.Broker): from then on this node serves the
// requests other nodes relay to it.
func (c *Cluster) Start(node http.Handler, deliver func(group string, typ session.MessageType, data []byte) int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.node != nil {
		c.log.Error("lifeline/cluster: a Cluster serves one Server; this one is ignored")
		return
	}
	c.node, c.deliver = node, deliver
	if m, ok := node.(interface{ Members(string) []string }); ok {
		c.members = m.Members
	}
	c.started.Store(true)
}

// Close leaves the cluster: the other nodes learn at once that this node's sessions
// are gone (their next request gets "no responders" and resets). Relays under way
// end. Close does not close the NATS connection. Call it after the Server's Shutdown
// (so that the Server's 4503 still reaches clients through relays) or instead of it.
func (c *Cluster) Close() error {
	c.unsubscribe()
	c.cancel()
	c.mu.Lock()
	for _, f := range c.flows {
		f.lose()
	}
	for _, cancel := range c.served {
		cancel()
	}
	c.mu.Unlock()
	c.wg.Wait()
	c.nc.SetReconnectHandler(c.prevReconnect)
	return nil
}

// dispatch routes a message sent to this node.
func (c *Cluster) dispatch(m *nats.Msg) {
	switch rest := strings.TrimPrefix(m.Subject, c.base); {
	case rest == "http":
		c.goServe(func() { c.serveHTTP(m) })
	case rest == "ws":
		c.goServe(func() { c.serveWebSocket(m) })
	case rest == "ctl":
		c.control(m)
	case rest == "hello":
		c.receiveHello(m)
	default:
		c.mu.Lock()
		f := c.flows[m.Subject]
		c.mu.Unlock()
		if len(m.Data) > 0 && m.Data[0] == kindPing {
			answer(m, f != nil)
			return
		}
		if f != nil {
			f.put(m)
		}
	}
}

// goServe runs fn on its own goroutine unless the cluster is closed.
func (c *Cluster) goServe(fn func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ctx.Err() != nil {
		return
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		fn()
	}()
}

// control answers a relay's ping or cancel about a request this node serves.
func (c *Cluster) control(m *nats.Msg) {
	r := reader{b: m.Data}
	kind, _ := r.start()
	key := r.string()
	if kind == kindMembers && r.err == nil {
		c.answerMembers(m, key) // the key is a group name
		return
	}
	c.mu.Lock()
	cancel, ok := c.served[key]
	c.mu.Unlock()
	switch {
	case r.err != nil:
	case kind == kindPing:
		answer(m, ok)
	case kind == kindCancel && ok:
		cancel()
	}
}

func answer(m *nats.Msg, yes bool) {
	if m.Reply == "" {
		return
	}
	if yes {
		m.Respond([]byte{'1'})
	} else {
		m.Respond([]byte{'0'})
	}
}

// serving records a request served for the relay whose flow is key, until done.
func (c *Cluster) serving(key string, cancel context.CancelFunc) (done func()) {
	c.mu.Lock()
	c.served[key] = cancel
	c.mu.Unlock()
	return func() {
		c.mu.Lock()
		delete(c.served, key)
		c.mu.Unlock()
	}
}
