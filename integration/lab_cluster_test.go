//go:build integration

package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestLabCluster: the chat example on three nodes (separate processes, one NATS
// server) behind haproxy with balance roundrobin and no stickiness, and Chromium pages
// forced to each transport, each alone in its room saying numbered messages and
// counting them as the room sends them back. Mid-run one node is killed (SIGKILL): the
// sessions it owned reset with 4404 within clusterResetBound and go on as fresh
// sessions on the live nodes; every other session shows every message once, in
// order, with no reset. Later the NATS server is killed and started again on its
// port: no session resets, loses or repeats a message, and nothing hangs
// (docs/cluster.md, "What happens on each failure"), and no page waits longer than
// clusterResetBound for its next message. Every page's status corner names the node
// that served it (a WebSocket page: the one that accepted its WebSocket), and those
// of the stream and poll pages more than one.
func TestLabCluster(t *testing.T) {
	e := lab(t)
	ns := startNATSServer(t)
	nodes := map[string]*proc{}
	var apps []string
	for i := 1; i <= 3; i++ {
		name := "node" + strconv.Itoa(i)
		addr, p := startNode(t, e.chatBin, "-nats", ns.url(), "-node", name)
		nodes[name] = p
		apps = append(apps, addr)
	}
	front := haproxy(t, time.Minute, apps...)

	const (
		perTransport = 2
		n            = 300                    // messages each page says
		pace         = 150 * time.Millisecond // one every pace: 45 s
		killAt       = 6 * time.Second        // after every page joined
		natsDownAt   = 24 * time.Second
		natsOutage   = time.Second
	)
	var pages []map[string]string
	for _, tr := range []string{"websocket", "stream", "poll"} {
		for i := range perTransport {
			pages = append(pages, map[string]string{"transport": tr, "room": fmt.Sprintf("%s%d", tr, i)})
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	var (
		mu       sync.Mutex
		victim   string
		killedAt time.Time
		natsBack time.Time
		failures []string
		wg       sync.WaitGroup
	)
	fail := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		failures = append(failures, fmt.Sprintf(format, args...))
	}
	// clock runs the failures once every page has joined: the node that owns the
	// most sessions (and not all of them) dies, then NATS restarts.
	clock := func(sids []string) {
		defer wg.Done()
		joined := time.Now()
		owned := map[string]int{}
		for _, sid := range sids {
			owned[owner(sid)]++
		}
		mu.Lock()
		for name, k := range owned {
			if nodes[name] != nil && (victim == "" || k > owned[victim]) {
				victim = name
			}
		}
		v := victim
		mu.Unlock()
		t.Logf("sessions by owner %v: %s dies", owned, v)
		if v == "" || owned[v] == len(sids) {
			fail("sessions by owner %v: need sessions on the victim and elsewhere", owned)
			return
		}
		if !sleepCtx(ctx, time.Until(joined.Add(killAt))) {
			return
		}
		mu.Lock()
		killedAt = time.Now()
		mu.Unlock()
		nodes[v].cmd.Process.Kill()
		if !sleepCtx(ctx, time.Until(joined.Add(natsDownAt))) {
			return
		}
		ns.kill()
		if !sleepCtx(ctx, natsOutage) {
			return
		}
		if err := ns.start(); err != nil {
			fail("restarting nats-server: %v", err)
		}
		mu.Lock()
		natsBack = time.Now()
		mu.Unlock()
	}
	var res []clusterPage
	err := e.drivers["chromium"].callEvents(ctx, map[string]any{"op": "cluster", "base": "http://" + front + "/",
		"pages": pages, "n": n, "paceMs": pace.Milliseconds(), "timeoutMs": 60000}, &res, func(ev string) {
		var sids []string
		if rest, ok := strings.CutPrefix(ev, "joined "); ok && json.Unmarshal([]byte(rest), &sids) == nil {
			wg.Add(1)
			go clock(sids)
		}
	})
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range failures {
		t.Error(f)
	}
	if killedAt.IsZero() || natsBack.IsZero() {
		t.Fatalf("the run ended before its failures: killed at %v, NATS back at %v", killedAt, natsBack)
	}
	if len(res) != len(pages) {
		t.Fatalf("%d results for %d pages", len(res), len(pages))
	}
	var victims, others int
	served := map[string]bool{}
	var longest time.Duration // the longest a page waited for its next message
	for i, r := range res {
		label := pages[i]["room"]
		for _, node := range r.Nodes {
			served[node] = true
		}
		mine := owner(r.Sids[0]) == victim
		t.Logf("%s: session on %s, %d received, gaps %v, resets %+v, %d reconnects, transports %v, served by %v",
			label, owner(r.Sids[0]), r.Received, r.Gaps, r.Resets, r.Reconnects, r.Transports, r.Nodes)
		if bad := r.checkCommon(pages[i]["transport"]); bad != "" {
			t.Errorf("%s: %s", label, bad)
		}
		if !mine {
			others++
			if len(r.Resets) != 0 || len(r.Gaps) != 0 || r.Received != n || len(r.Sids) != 1 {
				t.Errorf("%s (session on %s, which lived): %d of %d messages, skipped %v, %d resets, sessions %v: want all, once, in order, in one session",
					label, owner(r.Sids[0]), r.Received, n, r.Gaps, len(r.Resets), r.Sids)
			}
		} else {
			victims++
			if len(r.Resets) != 1 {
				t.Errorf("%s (session on the killed %s): %d resets %+v, want 1", label, victim, len(r.Resets), r.Resets)
				continue
			}
			rs := r.Resets[0]
			took := time.UnixMilli(rs.At).Sub(killedAt)
			t.Logf("%s: reset %d after %v, %d unsent, messages %d to %d lost", label, rs.Code, took.Round(time.Millisecond), rs.Unsent, rs.Next, rs.Sent-1)
			if rs.Code != 4404 || took < 0 || took > clusterResetBound {
				t.Errorf("%s: reset with %d %v after the kill, want 4404 within %v", label, rs.Code, took, clusterResetBound)
			}
			// What was said before the reset and had not come back is lost; from the
			// first message said after it, everything comes back once, in order.
			var wantGaps [][2]int
			if rs.Sent > rs.Next {
				wantGaps = [][2]int{{rs.Next, rs.Sent}}
			}
			if !slices.Equal(r.Gaps, wantGaps) || r.Received != n-(rs.Sent-rs.Next) {
				t.Errorf("%s: %d of %d received, skipped %v; want all but %d to %d", label, r.Received, n, r.Gaps, rs.Next, rs.Sent-1)
			}
			if len(r.Sids) != 2 || owner(r.Sids[1]) == victim {
				t.Errorf("%s: sessions %v, want a fresh one on a live node", label, r.Sids)
			}
		}
		for _, st := range r.Stalls {
			from, to := time.UnixMilli(st[0]), time.UnixMilli(st[1])
			t.Logf("%s: nothing came back for %v, from %v after the kill (%v after NATS came back)", label,
				to.Sub(from).Round(time.Millisecond), from.Sub(killedAt).Round(time.Millisecond), from.Sub(natsBack).Round(time.Millisecond))
			longest = max(longest, to.Sub(from))
			// Nothing hangs: a session waits at most the reset bound for its next message.
			if to.Sub(from) > clusterResetBound {
				t.Errorf("%s: nothing came back for %v, want at most %v", label, to.Sub(from), clusterResetBound)
			}
		}
		// A WebSocket is served by one node until it is replaced; a page on HTTP sends
		// each request through the balancer.
		if tr := pages[i]["transport"]; len(r.Nodes) == 0 || tr != "websocket" && len(r.Nodes) < 2 {
			t.Errorf("%s: the corner named %v, want a serving node (more than one on %s)", label, r.Nodes, tr)
		}
	}
	t.Logf("%d sessions on the killed node, %d on the others; nodes named in the corners: %v; the longest wait for a message: %v",
		victims, others, served, longest.Round(time.Millisecond))
	if len(served) < 2 {
		t.Errorf("the corners named %v, want more than one node", served)
	}
}

// clusterResetBound is what docs/cluster.md promises for a session of a killed node
// behind a round-robin balancer: a relayed request under way ends within Probe +
// ProbeTimeout (5 s), and the client's resumes, backing off up to 10 s (each attempt
// that lands on the dead node fails), reach a live node. Asserted generously: it is a
// bound, not a timing.
const clusterResetBound = 30 * time.Second

// clusterPage is what one page of the cluster lab saw (browser/driver.mjs,
// pageCluster).
type clusterPage struct {
	Sids       []string `json:"sids"`
	Transports []string `json:"transports"`
	Final      string   `json:"final"`
	Received   int      `json:"received"`
	Dups       int      `json:"dups"`
	Corrupt    int      `json:"corrupt"`
	Gaps       [][2]int `json:"gaps"`
	Resets     []struct {
		At                 int64 // Unix ms
		Code               int
		Sent, Next, Unsent int
	} `json:"resets"`
	Reconnects int        `json:"reconnects"`
	Closed     any        `json:"closed"`
	TimedOut   bool       `json:"timedOut"`
	Nodes      []string   `json:"nodes"`
	Console    []string   `json:"console"`
	Stalls     [][2]int64 `json:"stalls"` // pauses of over 1 s between two messages: [from, to], Unix ms
}

// checkCommon is what every page must show, whoever owned its session.
func (r clusterPage) checkCommon(forced string) string {
	var bad []string
	if r.Dups != 0 || r.Corrupt != 0 {
		bad = append(bad, fmt.Sprintf("%d duplicated, %d damaged", r.Dups, r.Corrupt))
	}
	if r.Closed != nil || r.TimedOut {
		bad = append(bad, fmt.Sprintf("ended early: closed %v, timed out %v", r.Closed, r.TimedOut))
	}
	if slices.ContainsFunc(r.Transports, func(s string) bool { return s != forced }) {
		bad = append(bad, fmt.Sprintf("forced to %s, but used %v", forced, r.Transports))
	}
	if len(r.Sids) == 0 || owner(r.Sids[0]) == "" {
		bad = append(bad, fmt.Sprintf("session ids %v", r.Sids))
	}
	if len(bad) > 0 && len(r.Console) > 0 {
		bad = append(bad, "console:\n"+strings.Join(r.Console, "\n"))
	}
	return strings.Join(bad, "; ")
}

// owner is the node named by a session id, <node>.<uuid> (docs/cluster.md).
func owner(sid string) string {
	node, _, _ := strings.Cut(sid, ".")
	return node
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	select {
	case <-time.After(d):
		return true
	case <-ctx.Done():
		return false
	}
}

// natsLab is a nats-server (Debian's package; make cluster-deps) on a fixed loopback
// port, which the test kills and starts again.
type natsLab struct {
	t    *testing.T
	bin  string
	port int
	p    *proc
}

func startNATSServer(t *testing.T) *natsLab {
	t.Helper()
	bin, err := exec.LookPath("nats-server")
	if err != nil {
		bin, err = exec.LookPath("/usr/sbin/nats-server")
	}
	if err != nil {
		t.Fatal("nats-server is missing: run make cluster-deps (Debian package nats-server)")
	}
	ns := &natsLab{t: t, bin: bin, port: freePort(t)}
	if err := ns.start(); err != nil {
		t.Fatal(err)
	}
	return ns
}

func (ns *natsLab) url() string { return fmt.Sprintf("nats://127.0.0.1:%d", ns.port) }

// start runs the server on its port and returns once it accepts connections.
func (ns *natsLab) start() error {
	ns.p = start(ns.t, nil, ns.bin, "-a", "127.0.0.1", "-p", strconv.Itoa(ns.port))
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) && !ns.p.exited(); time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", ns.port)); err == nil {
			c.Close()
			return nil
		}
	}
	return fmt.Errorf("nats-server did not start:\n%s", ns.p.out.String())
}

// kill ends the server abruptly (SIGKILL) and waits for it.
func (ns *natsLab) kill() {
	ns.p.cmd.Process.Kill()
	<-ns.p.done
}
