package cluster_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lifelinehq/lifeline/client"
	"github.com/lifelinehq/lifeline/cluster"
	"github.com/lifelinehq/lifeline/session"
)

// TestClusterMembers: the members of a group are read cluster-wide from any node; a
// node that is gone is known at once (no responders) and its members are no longer
// listed.
func TestClusterMembers(t *testing.T) {
	ns := startNATS(t)
	var joined sync.WaitGroup
	var tc *testCluster
	tc = newTestCluster(t, ns, func(ctx context.Context, s *session.Session) {
		tc.owner(s.ID()).srv.Join("room", s)
		joined.Done()
		echo(ctx, s)
	}, "a", "b", "c")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var conns []*client.Conn
	for i := range 6 {
		joined.Add(1)
		conns = append(conns, dial(t, ctx, tc.nodes[i%3].url, "websocket"))
	}
	joined.Wait()
	ids := func(keep func(*client.Conn) bool) []string {
		var out []string
		for _, c := range conns {
			if keep(c) {
				out = append(out, c.SessionID())
			}
		}
		slices.Sort(out)
		return out
	}
	want := ids(func(*client.Conn) bool { return true })
	for _, n := range tc.nodes {
		got, err := n.cl.Members(ctx, "room")
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("Members on %s: %v %v, want %v", n.name, got, err, want)
		}
	}
	if got, err := tc.nodes[1].cl.Members(ctx, "nobody"); err != nil || len(got) != 0 {
		t.Errorf("Members of an empty group: %v %v", got, err)
	}
	tc.kill(tc.nodes[2])
	want = ids(func(c *client.Conn) bool { return cluster.Owner(c.SessionID()) != "c" })
	// Until the NATS server notices c's connection is gone, a request may still be
	// handed to it: Members then reports c as late (ErrIncomplete). Once noticed, no
	// responders: c is forgotten.
	for {
		got, err := tc.nodes[0].cl.Members(ctx, "room")
		if !slices.Equal(got, want) {
			t.Fatalf("Members after c died: %v %v, want %v", got, err, want)
		}
		if err == nil {
			break
		}
		if !errors.Is(err, cluster.ErrIncomplete) || !strings.Contains(err.Error(), "[c]") {
			t.Fatalf("Members after c died: %v", err)
		}
	}
}
