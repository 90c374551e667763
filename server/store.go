package server

import (
	"sync"

	"github.com/lifelinehq/lifeline/internal/engine"
)

// Store finds sessions by their public id. The default keeps them in this process's
// memory. It is the seam for running many nodes without sticky sessions: every request
// that names a session is looked up with Get, so a Store backed by a broker is where a
// node learns whether a session is its own; relaying requests for sessions another
// node owns is left to that implementation. Implementations must be safe for
// concurrent use.
type Store interface {
	// Add stores s under s.ID().
	Add(s *engine.Session)
	// Get returns the session with the id, or nil.
	Get(id string) *engine.Session
	// Remove forgets the session with the id.
	Remove(id string)
	// Range calls fn for each session until fn returns false.
	Range(fn func(*engine.Session) bool)
}

// NewMemoryStore returns the default in-memory Store.
func NewMemoryStore() Store { return &memStore{m: make(map[string]*engine.Session)} }

type memStore struct {
	mu sync.RWMutex
	m  map[string]*engine.Session
}

func (st *memStore) Add(s *engine.Session) {
	st.mu.Lock()
	st.m[s.ID()] = s
	st.mu.Unlock()
}

func (st *memStore) Get(id string) *engine.Session {
	st.mu.RLock()
	defer st.mu.RUnlock()
	return st.m[id]
}

func (st *memStore) Remove(id string) {
	st.mu.Lock()
	delete(st.m, id)
	st.mu.Unlock()
}

func (st *memStore) Range(fn func(*engine.Session) bool) {
	st.mu.RLock()
	all := make([]*engine.Session, 0, len(st.m))
	for _, s := range st.m {
		all = append(all, s)
	}
	st.mu.RUnlock()
	for _, s := range all {
		if !fn(s) {
			return
		}
	}
}
