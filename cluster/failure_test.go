package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lifelinehq/lifeline/client"
	"github.com/lifelinehq/lifeline/closecode"
	"github.com/lifelinehq/lifeline/cluster"
	"github.com/lifelinehq/lifeline/integration/faultproxy"
)

// faulty is a test cluster behind a fault proxy, and clients on every transport.
func faulty(t *testing.T, ns *natsServer, clients int) (*testCluster, *faultproxy.Proxy, []*client.Conn) {
	tc := newTestCluster(t, ns, echo, "a", "b", "c")
	fp, err := faultproxy.New(strings.TrimPrefix(tc.front.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fp.Close)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var conns []*client.Conn
	for i := range clients {
		conns = append(conns, dial(t, ctx, "http://"+fp.Addr(), []string{"websocket", "stream", "poll"}[i%3]))
	}
	return tc, fp, conns
}

// TestClusterNodeKilled: a node dies abruptly. The sessions it owned reset (close
// code 4404) at the first request of theirs that reaches another node, and go on
// as fresh sessions on the live nodes; the sessions owned elsewhere, whose
// connections are cut too, resume without a reset or a lost message.
func TestClusterNodeKilled(t *testing.T) {
	ns := startNATS(t)
	tc, fp, conns := faulty(t, ns, 9)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for i, c := range conns {
		exchange(t, ctx, c, "before", 100+i)
	}
	victim := tc.owner(conns[0].SessionID())
	var victims, others []*client.Conn
	for _, c := range conns {
		if tc.owner(c.SessionID()) == victim {
			victims = append(victims, c)
		} else {
			others = append(others, c)
		}
	}
	if len(others) == 0 {
		t.Fatalf("every session is on node %s", victim.name)
	}
	killed := time.Now()
	tc.kill(victim)
	fp.CutAll() // the connections the dead node held die with it
	var wg sync.WaitGroup
	errs := make(chan error, len(conns))
	for _, c := range victims {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, err := c.Read(ctx)
			var re *client.ResetError
			if !errors.As(err, &re) || re.Code != closecode.Unknown {
				errs <- errors.New("a session of the dead node: Read " + errString(err) + ", want a reset with 4404")
				return
			}
			t.Logf("%s session reset after %v", c.Transport(), time.Since(killed).Round(time.Millisecond))
			if err := exchangeErr(ctx, c, "fresh", 300); err != nil {
				errs <- err
				return
			}
			if o := tc.owner(c.SessionID()); o == nil || o == victim {
				errs <- errors.New("the fresh session is on " + cluster.Owner(c.SessionID()))
			}
		}()
	}
	for _, c := range others {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := exchangeErr(ctx, c, "after", 300); err != nil {
				errs <- err
			} else if s := c.Stats(); s.Resets != 0 {
				errs <- errors.New("a session of a live node was reset")
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	var unknown uint64
	for _, n := range tc.nodes {
		unknown += n.cl.Stats().Unknown
	}
	t.Logf("%d sessions of the dead node, %d of the others; %d relays answered unknown session", len(victims), len(others), unknown)
	if len(victims) > 0 && unknown == 0 {
		t.Error("no relay answered unknown session")
	}
}

func errString(err error) string {
	if err == nil {
		return "nil"
	}
	return err.Error()
}

// TestClusterOwnerGoneMidRequest: a node dies while other nodes hold relayed
// streams and polls of its sessions, and nothing is cut but what it held itself.
// Those relays notice within Probe+ProbeTimeout (their probes get "no responders")
// and drop; the clients' next requests reset their sessions; the sessions of the
// live nodes go on untouched.
func TestClusterOwnerGoneMidRequest(t *testing.T) {
	ns := startNATS(t)
	tc := newTestCluster(t, ns, echo, "a", "b", "c")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var conns []*client.Conn
	for i := range 8 {
		c := dial(t, ctx, tc.front.URL, []string{"stream", "poll"}[i%2])
		exchange(t, ctx, c, "before", 50)
		conns = append(conns, c)
	}
	victim := tc.owner(conns[0].SessionID())
	// Whose session is whose is settled before the kill: a session of the dead node
	// may be reset (and its Conn go on with a fresh session elsewhere) within
	// milliseconds of it.
	mine := make([]bool, len(conns))
	for i, c := range conns {
		mine[i] = tc.owner(c.SessionID()) == victim
	}
	killed := time.Now()
	tc.kill(victim)
	var wg sync.WaitGroup
	errs := make(chan error, len(conns))
	for i, c := range conns {
		mine := mine[i]
		wg.Add(1)
		go func() {
			defer wg.Done()
			if mine { // no write: only the held request can tell
				_, _, err := c.Read(ctx)
				var re *client.ResetError
				if !errors.As(err, &re) || re.Code != closecode.Unknown {
					errs <- errors.New("a session of the dead node: Read " + errString(err) + ", want a reset with 4404")
					return
				}
				t.Logf("%s session reset after %v", c.Transport(), time.Since(killed).Round(time.Millisecond))
			}
			if err := exchangeErr(ctx, c, "after", 200); err != nil {
				errs <- err
			} else if s := c.Stats(); !mine && s.Resets != 0 {
				errs <- errors.New("a session of a live node was reset")
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestClusterNATSRestart: the NATS server restarts while sessions on every transport
// exchange messages. Relays under way end (their probes fail) and the clients
// resume; relays started while NATS is down fail at once and the clients retry;
// after the restart "no responders" is not believed for ReconnectGrace, so no session
// resets for an owner that has yet to resubscribe. Nothing is lost, duplicated or
// reset, and nothing hangs.
func TestClusterNATSRestart(t *testing.T) {
	ns := startNATS(t)
	tc, fp, conns := faulty(t, ns, 6)
	fp.CutAfter(3, 50*time.Millisecond, 400*time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// Each client exchanges batches until NATS is back and it has done a few more.
	var wg sync.WaitGroup
	errs := make(chan error, len(conns))
	started := make(chan struct{}, len(conns))
	restarted := make(chan struct{})
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			after := 0
			for i := 0; after < 5; i++ {
				if err := exchangeErr(ctx, c, fmt.Sprintf("b%d-", i), 100); err != nil {
					errs <- err
					return
				}
				if i == 2 {
					started <- struct{}{}
				}
				select {
				case <-restarted:
					after++
				default:
				}
			}
		}()
	}
	for range conns {
		select {
		case <-started:
		case err := <-errs:
			t.Fatal(err)
		}
	}
	ns.stop()
	time.Sleep(500 * time.Millisecond) // an outage long enough for relays to fail in it
	ns.start()
	close(restarted)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for _, c := range conns {
		if s := c.Stats(); s.Resets != 0 {
			t.Errorf("%s: reset: %+v", c.Transport(), s)
		}
	}
	var lost uint64
	for _, n := range tc.nodes {
		lost += n.cl.Stats().Lost
		if n.nc.Stats().Reconnects == 0 {
			t.Errorf("node %s never reconnected: NATS did not restart", n.name)
		}
	}
	var drops uint64
	for _, c := range conns {
		drops += c.Stats().Drops
	}
	t.Logf("relays ended by a lost message or probe: %d; client connections dropped (cuts and restart): %d", lost, drops)
}

// TestClusterGracefulShutdown: a node shuts down while the front still sends it
// requests. Its own sessions end with 4503 (told through whichever node their next
// request reaches) and start fresh on the other nodes; the sessions of the other
// nodes whose requests land on the draining node are relayed as usual, never reset.
func TestClusterGracefulShutdown(t *testing.T) {
	ns := startNATS(t)
	tc := newTestCluster(t, ns, echo, "a", "b", "c")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var conns []*client.Conn
	for i := range 8 {
		c := dial(t, ctx, tc.front.URL, []string{"stream", "poll"}[i%2])
		exchange(t, ctx, c, "before", 50)
		conns = append(conns, c)
	}
	victim := tc.owner(conns[0].SessionID())
	mine := map[*client.Conn]bool{}
	for _, c := range conns {
		mine[c] = tc.owner(c.SessionID()) == victim
	}
	shut := make(chan error, 1)
	go func() { shut <- victim.srv.Shutdown(ctx) }()
	var wg sync.WaitGroup
	errs := make(chan error, len(conns))
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if mine[c] {
				_, _, err := c.Read(ctx)
				var re *client.ResetError
				if !errors.As(err, &re) || re.Code != closecode.Shutdown {
					errs <- errors.New("a session of the node shutting down: Read " + errString(err) + ", want a reset with 4503")
					return
				}
			}
			if err := exchangeErr(ctx, c, "after", 200); err != nil {
				errs <- err
			} else if s := c.Stats(); !mine[c] && s.Resets != 0 {
				errs <- errors.New("a session of a live node was reset")
			} else if mine[c] && tc.owner(c.SessionID()) == victim {
				errs <- errors.New("a fresh session was created on the node shutting down")
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if err := <-shut; err != nil {
		t.Error(err)
	}
}
