package cluster

import (
	"github.com/nats-io/nats.go"

	"github.com/lifelinehq/lifeline/session"
)

// Publish sends a broadcast made on this node to every other node in one NATS
// message on Prefix.broadcast (server.Broker); each node delivers it to its own
// members of the group. A broadcast too large for NATS (its max_payload) or sent while
// the connection is down beyond nats.go's reconnect buffer is logged and dropped.
func (c *Cluster) Publish(group string, typ session.MessageType, data []byte) {
	b := appendStart(make([]byte, 0, 32+len(c.o.Node)+len(group)+len(data)), kindBroadcast, 0)
	b = appendString(b, c.o.Node)
	b = appendString(b, group)
	b = append(append(b, byte(typ)), data...)
	if int64(len(b)) > c.nc.MaxPayload() {
		c.log.Error("lifeline/cluster: broadcast larger than the NATS max_payload: not sent to other nodes",
			"group", group, "bytes", len(data))
		return
	}
	if err := c.nc.Publish(c.all, b); err != nil {
		c.log.Warn("lifeline/cluster: broadcast not sent to other nodes", "group", group, "err", err)
	}
}

// receiveBroadcast delivers another node's broadcast to this node's members.
func (c *Cluster) receiveBroadcast(m *nats.Msg) {
	rd := reader{b: m.Data}
	kind, _ := rd.start()
	node, group := rd.string(), rd.string()
	typ := session.MessageType(rd.byte())
	data := rd.rest()
	if rd.err != nil || kind != kindBroadcast || node == c.o.Node || !c.started.Load() {
		return
	}
	c.stats.broadcasts.Add(1)
	c.deliver(group, typ, data)
}
