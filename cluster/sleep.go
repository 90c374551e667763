package cluster

import (
	"context"
	"time"
)

// retryWait is how long a request that got "no responders" during ReconnectGrace
// waits before it asks again.
const retryWait = 250 * time.Millisecond

// sleep waits retryWait, or reports false when ctx ends first.
func sleep(ctx context.Context) bool {
	t := time.NewTimer(retryWait)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
