package server

import (
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/lifelinehq/lifeline/closecode"
	"github.com/lifelinehq/lifeline/internal/engine"
)

// admission decides whether a new session may be created, so that one client cannot
// deny the others: each client (an address, see clientKey) holds at most
// MaxSessionsPerClient sessions and MaxUnconfirmedPerClient unconfirmed ones, and all
// clients together hold at most MaxUnconfirmed unconfirmed sessions (docs/protocol.md
// §3, §8). It runs before anything costly: before the authenticator, the random id and
// token, the session and its timer. It is safe for concurrent use.
type admission struct {
	mu          sync.Mutex
	clients     map[string]*client          // clients holding sessions, by key
	pending     map[*engine.Session]*client // unconfirmed sessions
	unconfirmed int

	perClient, unconfPerClient, unconf int // <0: no limit
	trusted                            []netip.Prefix
	hinted                             atomic.Bool // the TrustedProxies hint was logged
}

// client is one client key's sessions.
type client struct {
	key                   string
	sessions, unconfirmed int
	unlimited             bool // a loopback peer: not limited per client
}

func (a *admission) init(o *Options) {
	a.clients = make(map[string]*client)
	a.pending = make(map[*engine.Session]*client)
	a.perClient, a.unconfPerClient, a.unconf = o.MaxSessionsPerClient, o.MaxUnconfirmedPerClient, o.MaxUnconfirmed
	a.trusted = o.TrustedProxies
}

// admit reserves a place for a new unconfirmed session of the client r comes from, or
// returns the refusal. A reservation is given back with cancel, or handed to a session
// with add.
func (srv *Server) admit(r *http.Request) (*client, error) {
	a := &srv.adm
	key, limited := a.clientKey(r)
	a.mu.Lock()
	defer a.mu.Unlock()
	c := a.clients[key]
	if c == nil {
		c = &client{key: key, unlimited: !limited}
	}
	switch {
	case a.unconf >= 0 && a.unconfirmed >= a.unconf:
		return nil, refuse(closecode.TooMany, "too many unconfirmed sessions")
	case limited && a.unconfPerClient >= 0 && c.unconfirmed >= a.unconfPerClient:
		srv.hint(r, key)
		return nil, refuse(closecode.TooMany, "too many unconfirmed sessions from this client")
	case limited && a.perClient >= 0 && c.sessions >= a.perClient:
		srv.hint(r, key)
		return nil, refuse(closecode.TooMany, "too many sessions from this client")
	}
	a.clients[key] = c
	c.sessions++
	c.unconfirmed++
	a.unconfirmed++
	return c, nil
}

// cancel gives back a reservation that did not become a session.
func (a *admission) cancel(c *client) {
	a.mu.Lock()
	c.unconfirmed--
	a.unconfirmed--
	a.dropLocked(c)
	a.mu.Unlock()
}

// add hands c's reservation to s: it counts as unconfirmed until confirmed, and as
// one of c's sessions until it ends.
func (a *admission) add(s *engine.Session, c *client) {
	a.mu.Lock()
	a.pending[s] = c
	a.mu.Unlock()
	s.OnEnd(func() { a.ended(s, c) })
}

// isPending reports whether s is unconfirmed.
func (a *admission) isPending(s *engine.Session) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	_, ok := a.pending[s]
	return ok
}

// confirmed moves s out of the unconfirmed budgets.
func (a *admission) confirmed(s *engine.Session) {
	a.mu.Lock()
	if c, ok := a.pending[s]; ok {
		delete(a.pending, s)
		c.unconfirmed--
		a.unconfirmed--
	}
	a.mu.Unlock()
}

func (a *admission) ended(s *engine.Session, c *client) {
	a.mu.Lock()
	if _, ok := a.pending[s]; ok {
		delete(a.pending, s)
		c.unconfirmed--
		a.unconfirmed--
	}
	a.dropLocked(c)
	a.mu.Unlock()
}

// dropLocked counts one session of c gone and forgets c when it holds none.
func (a *admission) dropLocked(c *client) {
	if c.sessions--; c.sessions == 0 {
		delete(a.clients, c.key)
	}
}

// clientKey returns the key the per-client limits count r under, and whether they
// apply: the peer's address (an IPv6 address by its /64, which one subscriber
// usually holds whole), or, when the peer is a trusted proxy, the address it
// forwarded in X-Forwarded-For (the rightmost one not itself a trusted proxy; what
// lies left of it was written by the client and proves nothing). A loopback peer not
// listed as a trusted proxy is not limited per client: it is a local proxy, whose
// clients would all share its address, or a local test.
func (a *admission) clientKey(r *http.Request) (string, bool) {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr, true // not an IP peer (a Unix socket, a test): one key
	}
	addr := ap.Addr().Unmap()
	if a.isTrusted(addr) {
		hops := r.Header.Values("X-Forwarded-For")
	walk:
		for i := len(hops) - 1; i >= 0; i-- {
			h := hops[i]
			for h != "" {
				var hop string
				if j := strings.LastIndexByte(h, ','); j >= 0 {
					hop, h = h[j+1:], h[:j]
				} else {
					hop, h = h, ""
				}
				next, ok := parseHop(strings.TrimSpace(hop))
				if !ok {
					break walk // malformed: trust no further than the last good hop
				}
				addr = next
				if !a.isTrusted(addr) {
					break walk
				}
			}
		}
	} else if addr.IsLoopback() {
		return keyOf(addr), false
	}
	return keyOf(addr), true
}

// parseHop parses one X-Forwarded-For element: an address, maybe with a port.
func parseHop(s string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), true
	}
	return netip.Addr{}, false
}

func (a *admission) isTrusted(addr netip.Addr) bool {
	for _, p := range a.trusted {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// keyOf is the client key of an address: an IPv4 address, or an IPv6 /64.
func keyOf(addr netip.Addr) string {
	if addr.Is6() && !addr.Is4In6() {
		p, _ := addr.Prefix(64)
		return p.String()
	}
	return addr.String()
}

// hint logs, once, that a per-client limit refused a private address while no proxy
// is trusted: behind a proxy, every client shares its address.
func (srv *Server) hint(r *http.Request, key string) {
	srv.log.Info("lifeline: per-client session limit reached", "client", key, "remote", r.RemoteAddr)
	if len(srv.adm.trusted) > 0 || srv.adm.hinted.Swap(true) {
		return
	}
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil && ap.Addr().IsPrivate() {
		srv.log.Warn("lifeline: a private address reached a per-client limit; if the server is behind a proxy, list it in Options.TrustedProxies, or every client shares its address",
			"remote", r.RemoteAddr)
	}
}

// retryAfter is the Retry-After of every 429 and 503 response, in seconds.
const retryAfter = "5"
