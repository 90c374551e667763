package server

import (
	"crypto/subtle"
	"sync"
	"time"

	"github.com/lifelinehq/lifeline/closecode"
	"github.com/lifelinehq/lifeline/internal/engine"
)

// tombstones remember, for one resume window, how recent sessions ended, so a client
// resuming one learns its real close code (4410 expired, 4507 overflow, 1000 closed,
// even when the final close frame was lost) rather than "unknown session".
type tombstones struct {
	mu    sync.Mutex
	m     map[string]tombstone
	order []string // ids in insertion order, for pruning
	ttl   time.Duration
	max   int
}

type tombstone struct {
	token  string
	code   closecode.Code
	reason string
	at     time.Time
}

func (ts *tombstones) init(ttl time.Duration, max int) {
	ts.m = make(map[string]tombstone)
	ts.ttl, ts.max = ttl, max
}

func (ts *tombstones) add(s *engine.Session, code closecode.Code, reason string) {
	now := time.Now()
	ts.mu.Lock()
	defer ts.mu.Unlock()
	for len(ts.order) > 0 {
		old, ok := ts.m[ts.order[0]]
		if ok && now.Sub(old.at) < ts.ttl && len(ts.order) < ts.max {
			break
		}
		delete(ts.m, ts.order[0])
		ts.order[0] = ""
		ts.order = ts.order[1:]
	}
	ts.m[s.ID()] = tombstone{token: s.Token(), code: code, reason: reason, at: now}
	ts.order = append(ts.order, s.ID())
}

// lookup returns how the session with id ended, if it did recently and token is its.
func (ts *tombstones) lookup(id, token string) (closecode.Code, string, bool) {
	ts.mu.Lock()
	t, ok := ts.m[id]
	ts.mu.Unlock()
	if !ok || time.Since(t.at) > ts.ttl || subtle.ConstantTimeCompare([]byte(t.token), []byte(token)) != 1 {
		return 0, "", false
	}
	return t.code, t.reason, true
}
