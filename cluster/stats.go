package cluster

import "sync/atomic"

// Stats counts what a Cluster relayed and served since New.
type Stats struct {
	Relayed    uint64 // requests and WebSockets this node relayed to their owners
	RelayedWS  uint64 // of those, WebSockets
	Served     uint64 // requests and WebSockets this node served for other nodes
	Unknown    uint64 // relayed requests answered "unknown session": their owner was gone
	Lost       uint64 // relays ended because a message was lost or the other side stopped answering
	Broadcasts uint64 // broadcasts received from other nodes
}

type counters struct {
	relayed, relayedWS, served, unknown, lost, broadcasts atomic.Uint64
}

// Stats returns the counts so far. It is safe to call at any time.
func (c *Cluster) Stats() Stats {
	return Stats{Relayed: c.stats.relayed.Load(), RelayedWS: c.stats.relayedWS.Load(), Served: c.stats.served.Load(),
		Unknown: c.stats.unknown.Load(), Lost: c.stats.lost.Load(), Broadcasts: c.stats.broadcasts.Load()}
}
