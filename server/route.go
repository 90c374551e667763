package server

import (
	"context"
	"net/http"
	"sync"

	"github.com/google/uuid"

	"github.com/lifelinehq/lifeline/internal/engine"
)

// Router is the seam for running many nodes with no sticky sessions. A session lives
// on the node that created it and runs its handler (its owner). For every request that
// names a session, a Server asks its Router whether the session is its own; when it is
// not, the Router's Relay carries the request to the owner. Nothing crosses the seam
// but session ids and requests: no live session. The default (Options.Router nil)
// keeps every session in this process. Implementations must be safe for concurrent
// use.
type Router interface {
	// NewID returns the public id of a session created on this node. A cluster
	// encodes the owner in it, so that finding the owner costs no round trip.
	NewID() string
	// Relay returns how to reach the owner of the session with the id, or nil when
	// this node is the owner, or when no node is (the Server then answers as for an
	// unknown session).
	Relay(id string) Relay
}

// Relay carries the requests of one session to the node that owns it. The node that
// received a request has checked its Origin; authentication is the owner's.
type Relay interface {
	// ServeHTTP relays a stream, poll or send request.
	http.Handler
	// ServeWebSocket relays an accepted WebSocket connection whose first message,
	// first (an R frame), named the session. It returns when the connection ends.
	// UpgradeRequest(ctx) is the connection's upgrade request.
	ServeWebSocket(ctx context.Context, c MessageConn, first []byte)
}

// local is the Router of one process: random ids, every session here.
type local struct{}

func (local) NewID() string      { return uuid.NewString() }
func (local) Relay(string) Relay { return nil }

// registry holds this node's live sessions by id.
type registry struct {
	mu sync.RWMutex
	m  map[string]*engine.Session
}

func (rg *registry) init() { rg.m = make(map[string]*engine.Session) }

func (rg *registry) add(s *engine.Session) {
	rg.mu.Lock()
	rg.m[s.ID()] = s
	rg.mu.Unlock()
}

func (rg *registry) get(id string) *engine.Session {
	rg.mu.RLock()
	defer rg.mu.RUnlock()
	return rg.m[id]
}

func (rg *registry) remove(id string) {
	rg.mu.Lock()
	delete(rg.m, id)
	rg.mu.Unlock()
}

// each calls fn for each live session until fn returns false, outside the lock.
func (rg *registry) each(fn func(*engine.Session) bool) {
	rg.mu.RLock()
	all := make([]*engine.Session, 0, len(rg.m))
	for _, s := range rg.m {
		all = append(all, s)
	}
	rg.mu.RUnlock()
	for _, s := range all {
		if !fn(s) {
			return
		}
	}
}
