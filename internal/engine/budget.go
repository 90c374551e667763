package engine

import (
	"sync"
	"sync/atomic"
)

// Budget is a number of bytes shared by many sessions: what they hold queued, in
// both directions, together (a server's Options.QueuedBytesBudget). A session takes
// from it before it queues a message and gives back when the message leaves its
// queue (read by the handler, acknowledged by the peer) or the session ends. A nil
// *Budget is no budget. Safe for concurrent use.
type Budget struct {
	limit int64
	used  atomic.Int64

	mu      sync.Mutex
	space   chan struct{} // closed when bytes come back while someone waits
	waiting atomic.Bool   // space was handed to a waiter: give must close it
}

// NewBudget returns a budget of limit bytes.
func NewBudget(limit int64) *Budget { return &Budget{limit: limit} }

// Used returns the bytes taken and not given back.
func (b *Budget) Used() int64 {
	if b == nil {
		return 0
	}
	return b.used.Load()
}

// take takes n bytes if they fit.
func (b *Budget) take(n int) bool {
	if b == nil {
		return true
	}
	for {
		u := b.used.Load()
		if u+int64(n) > b.limit {
			return false
		}
		if b.used.CompareAndSwap(u, u+int64(n)) {
			return true
		}
	}
}

// give gives n bytes back and wakes whoever waits for space.
func (b *Budget) give(n int) {
	if b == nil || n == 0 {
		return
	}
	b.used.Add(-int64(n))
	if b.waiting.Load() { // no lock on the common path: nobody waits
		b.mu.Lock()
		b.waiting.Store(false)
		signal(&b.space)
		b.mu.Unlock()
	}
}

// wait returns a channel closed when bytes are given back; nil for no budget. A
// caller that found the budget full calls it, then tries again (take may have failed
// just before a give: the caller must check again after calling wait).
func (b *Budget) wait() chan struct{} {
	if b == nil {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.waiting.Store(true)
	return waiter(&b.space)
}
