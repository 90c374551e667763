package cluster_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/lifelinehq/lifeline/cluster"
)

// TestNewRefuses: every bad option is refused with an error that names it.
func TestNewRefuses(t *testing.T) {
	ns := startNATS(t)
	nc, err := nats.Connect(ns.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if _, err := cluster.New(nil, cluster.Options{Node: "a"}); err == nil || !strings.Contains(err.Error(), "nil NATS connection") {
		t.Errorf("nil connection: %v", err)
	}
	for _, c := range []struct {
		o    cluster.Options
		want string
	}{
		{cluster.Options{}, "node name"},
		{cluster.Options{Node: "a.b"}, "node name"},
		{cluster.Options{Node: "a*"}, "node name"},
		{cluster.Options{Node: "a>"}, "node name"},
		{cluster.Options{Node: "a b"}, "node name"},
		{cluster.Options{Node: strings.Repeat("x", 65)}, "node name"},
		{cluster.Options{Node: "a", Prefix: "x..y"}, "prefix"},
		{cluster.Options{Node: "a", Prefix: "x.*"}, "prefix"},
		{cluster.Options{Node: "a", Probe: -time.Second}, "negative"},
	} {
		if cl, err := cluster.New(nc, c.o); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want an error about %s", c.o, err, c.want)
			if cl != nil {
				cl.Close()
			}
		}
	}
	cl, err := cluster.New(nc, cluster.Options{Node: "Node_1-x", Prefix: "app.ll"})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if id := cl.NewID(); !strings.HasPrefix(id, "Node_1-x.") || cluster.Owner(id) != "Node_1-x" {
		t.Errorf("NewID %q, Owner %q", id, cluster.Owner(id))
	}
	for _, id := range []string{"", "nodot", ".x", "a*b.x", "a b.x"} {
		if o := cluster.Owner(id); o != "" {
			t.Errorf("Owner(%q) = %q, want none", id, o)
		}
		if cl.Relay(id) != nil {
			t.Errorf("Relay(%q) is not nil: an id that names no node is unknown here", id)
		}
	}
	if cl.Relay(cl.NewID()) != nil || cl.Relay("other.x") == nil {
		t.Error("Relay: nil for this node's ids, a relay for another's")
	}
}

// TestMalformedMessages: garbage on every subject a node listens to is dropped, and
// the node still relays and serves.
func TestMalformedMessages(t *testing.T) {
	ns := startNATS(t)
	tc := newTestCluster(t, ns, echo, "a", "b")
	nc, err := nats.Connect(ns.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	junk := [][]byte{nil, {0}, {'Q'}, {'Q', 0, 200}, {'W', 0, 5, 'x'}, {'A', 1, 7}, {'M', 9}, {'X', 1, 255, 255},
		{'P'}, {'C', 0, 50}, {'B', 0, 1, 'a', 0}, []byte(strings.Repeat("\xff", 100))}
	for _, subj := range []string{"lifeline.a.http", "lifeline.a.ws", "lifeline.a.ctl", "lifeline.a.f.1",
		"lifeline.a.f.999", "lifeline.a.unknown", "lifeline.broadcast"} {
		for _, j := range junk {
			if err := nc.PublishRequest(subj, "junk.reply", j); err != nil {
				t.Fatal(err)
			}
			if err := nc.Publish(subj, j); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, tr := range []string{"websocket", "stream", "poll"} {
		c := dial(t, ctx, tc.front.URL, tr)
		exchange(t, ctx, c, tr, 100)
	}
}
