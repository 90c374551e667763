package client

import (
	"context"
	"math/rand/v2"
	"time"
)

// backoff computes the waits between failed attempts: exponential with full jitter,
// a random duration in [0, min(max, min·2^n)] for the n-th consecutive failure. It is
// not safe for concurrent use.
type backoff struct {
	min, max time.Duration
	n        int
}

// ceiling is the upper bound of the next wait.
func (b *backoff) ceiling() time.Duration {
	d := b.min
	for i := 0; i < b.n && d < b.max; i++ {
		d *= 2
	}
	return min(d, b.max)
}

// next returns the wait before the next attempt and counts a failure.
func (b *backoff) next() time.Duration {
	c := b.ceiling()
	if c < b.max {
		b.n++
	}
	if c <= 0 {
		return 0
	}
	return time.Duration(rand.Int64N(int64(c) + 1))
}

// reset forgets the failures counted so far.
func (b *backoff) reset() { b.n = 0 }

// sleep waits for d, or until ctx is done (false) or early is closed (true). A nil
// early never closes.
func sleep(ctx context.Context, d time.Duration, early <-chan struct{}) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-early:
	case <-ctx.Done():
		return false
	}
	return true
}
