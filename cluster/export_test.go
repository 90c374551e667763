package cluster

// SetDrop makes every Cluster lose the flow messages drop returns true for, as NATS
// core may (nil: lose none).
func SetDrop(drop func(subject string, n uint64) bool) {
	if drop == nil {
		dropHook.Store(nil)
		return
	}
	dropHook.Store(&drop)
}
