package cluster_test

import (
	"context"
	"errors"
	"log"

	"github.com/nats-io/nats.go"

	"github.com/lifelinehq/lifeline/cluster"
	"github.com/lifelinehq/lifeline/server"
	"github.com/lifelinehq/lifeline/session"
)

// A node of a cluster: NATS credentials and TLS are nats.go options; the Cluster is
// the Server's Router (and, being one, its Broker). Run the same on every node with
// its own name, behind any load balancer.
func Example() {
	nc, err := nats.Connect("nats://127.0.0.1:4222", nats.MaxReconnects(-1))
	if err != nil {
		log.Fatal(err)
	}
	defer nc.Close()
	cl, err := cluster.New(nc, cluster.Options{Node: "web-1"})
	if err != nil {
		log.Fatal(err)
	}
	srv := server.New(server.HandlerFunc(func(ctx context.Context, s *session.Session) {
		// Broadcast reaches the members of "room" on every node.
	}), &server.Options{Router: cl})
	defer cl.Close() // after srv.Shutdown: 4503 still reaches clients through relays
	defer srv.Shutdown(context.Background())
	log.Println("node", cl.Node(), "relayed", cl.Stats().Relayed)
}

// Who is in a room, on every node.
func ExampleCluster_Members() {
	nc, err := nats.Connect("nats://127.0.0.1:4222")
	if err != nil {
		log.Fatal(err)
	}
	defer nc.Close()
	cl, err := cluster.New(nc, cluster.Options{Node: "web-2"})
	if err != nil {
		log.Fatal(err)
	}
	defer cl.Close()
	ids, err := cl.Members(context.Background(), "room:lobby")
	if errors.Is(err, cluster.ErrIncomplete) {
		log.Printf("some nodes did not answer: %v", err)
	}
	for _, id := range ids {
		log.Println(id, "on node", cluster.Owner(id))
	}
}
