package server

import (
	"net/http"

	"github.com/lifelinehq/lifeline/session"
)

// Broker carries broadcasts between the nodes of a cluster: Broadcast on one node
// publishes once through it, and every other node delivers to its own members of the
// group. Groups stay local (Join and Leave send nothing): a broadcast reaches the
// members of every node because every node delivers it. The default (Options.Broker
// nil, and a Router that is not also a Broker) is one node: nothing is published.
// Implementations must be safe for concurrent use.
type Broker interface {
	// Start is called once by New, before the Server serves anything. node is the
	// Server itself, for a cluster that serves requests relayed from other nodes;
	// deliver hands a broadcast published by another node to this node's members of
	// the group and returns how many it reached. deliver never publishes.
	Start(node http.Handler, deliver func(group string, typ session.MessageType, data []byte) int)
	// Publish sends a broadcast made on this node to the other nodes. It must not
	// block for long: a broker that cannot send logs and drops the broadcast.
	Publish(group string, typ session.MessageType, data []byte)
}

// noBroker is the Broker of one process.
type noBroker struct{}

func (noBroker) Start(http.Handler, func(string, session.MessageType, []byte) int) {}
func (noBroker) Publish(string, session.MessageType, []byte)                       {}

// startBroker hands the Server to its Broker (New calls it last).
func (srv *Server) startBroker() {
	srv.opts.Broker.Start(srv, func(group string, typ session.MessageType, data []byte) int {
		return srv.deliver(group, typ, data)
	})
}
