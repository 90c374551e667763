package server_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/lifelinehq/lifeline/closecode"
	"github.com/lifelinehq/lifeline/server"
	"github.com/lifelinehq/lifeline/transport"
)

// direct serves requests by calling the handler, each from the client address given:
// admission is keyed by address, and a test cannot listen on or dial from addresses
// other than loopback ones (which admission does not limit per client).
type direct struct {
	t   *testing.T
	srv *server.Server
}

func newDirect(t *testing.T, opts *server.Options) *direct {
	t.Helper()
	o := server.Options{Logger: slog.New(slog.DiscardHandler)}
	if opts != nil {
		o = *opts
		o.Logger = slog.New(slog.DiscardHandler)
	}
	o.ShutdownDrain = -1 // the test's clients are gone by the end
	srv := server.New(echo, &o)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return &direct{t, srv}
}

// do serves one request from remote (host:port) with header pairs.
func (d *direct) do(method, path, remote, body string, hdr ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, "/ll"+path, strings.NewReader(body))
	r.RemoteAddr = remote
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Add(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	d.srv.ServeHTTP(w, r)
	return w
}

// create sends a bare GET poll from remote: the hello on success, or nil after
// checking the refusal is a 429 with Retry-After and C4429.
func (d *direct) create(remote string, hdr ...string) *transport.Hello {
	t := d.t
	t.Helper()
	w := d.do("GET", "/poll", remote, "", hdr...)
	fs := frames(t, w.Body)
	if w.Code == http.StatusTooManyRequests {
		if w.Header().Get("Retry-After") == "" || len(fs) != 1 || fs[0].Type != transport.FrameClose || fs[0].Num != uint64(closecode.TooMany) {
			t.Fatalf("429 from %s: Retry-After %q, body %+v", remote, w.Header().Get("Retry-After"), fs)
		}
		return nil
	}
	if w.Code != 200 || len(fs) == 0 || fs[0].Type != transport.FrameHello {
		t.Fatalf("bare poll from %s: %d %+v", remote, w.Code, fs)
	}
	h, err := transport.DecodeHello(fs[0].Data)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// confirm sends A0 for h's session.
func (d *direct) confirm(remote string, h *transport.Hello) {
	d.t.Helper()
	if w := d.do("POST", "/send", remote, body("A0"), creds(h, h.Token, 0, 0)...); w.Code != 200 {
		d.t.Fatalf("confirming send: %d %s", w.Code, w.Body)
	}
}

// flood sends n bare polls from remote and returns the sessions it got.
func (d *direct) flood(remote string, n int, hdr ...string) []*transport.Hello {
	var got []*transport.Hello
	for range n {
		if h := d.create(remote, hdr...); h != nil {
			got = append(got, h)
		}
	}
	return got
}

// TestAdmissionFloodFromOneAddress: a flood of bare GET polls from one address (no
// session ever confirmed) filled MaxSessions, and every other client got 429 until
// the flood's sessions expired, 10 s later, while the flood simply repeated. Now one
// address holds at most MaxUnconfirmedPerClient unconfirmed sessions and
// MaxSessionsPerClient in all, and another client is never refused.
func TestAdmissionFloodFromOneAddress(t *testing.T) {
	d := newDirect(t, &server.Options{MaxSessions: 2000})
	const flooder, user = "203.0.113.7:4000", "198.51.100.1:5000"

	got := d.flood(flooder, 2500)
	t.Logf("a flood of 2500 bare polls from one address holds %d sessions (MaxSessions 2000)", len(got))
	if len(got) != 16 {
		t.Fatalf("the flood holds %d unconfirmed sessions, want 16 (MaxUnconfirmedPerClient's default)", len(got))
	}
	h := d.create(user)
	if h == nil {
		t.Fatal("another client is refused while one address floods")
	}
	d.confirm(user, h)

	// A flood that confirms each session holds at most MaxSessionsPerClient.
	for len(got) < 200 {
		for _, h := range got[max(0, len(got)-16):] {
			d.confirm(flooder, h)
		}
		more := d.flood(flooder, 20)
		if len(more) == 0 {
			break
		}
		got = append(got, more...)
	}
	if len(got) != 100 {
		t.Fatalf("a confirming flood holds %d sessions, want 100 (MaxSessionsPerClient's default)", len(got))
	}
	if h := d.create(user); h == nil {
		t.Fatal("another client is refused while one address holds its 100 sessions")
	}
	// The flooder's sessions still work: the limit refuses new ones only.
	if w := d.do("POST", "/send", flooder, body("S1", "Mstill mine"), creds(got[0], got[0].Token, 0, 0)...); w.Code != 200 {
		t.Fatalf("a flooder's session: send %d", w.Code)
	}
	// A session that ends frees its client's place.
	if w := d.do("POST", "/send", flooder, body("C1000 bye"), creds(got[1], got[1].Token, 0, 0)...); w.Code != 200 {
		t.Fatalf("closing send %d", w.Code)
	}
	if d.create(flooder) == nil {
		t.Fatal("a client at its limit is still refused after one of its sessions ended")
	}
}

// TestAdmissionUnconfirmedBudget: bare polls from many addresses cannot fill
// MaxSessions: all clients together hold at most MaxUnconfirmed unconfirmed sessions,
// and confirmed sessions are not counted against it.
func TestAdmissionUnconfirmedBudget(t *testing.T) {
	d := newDirect(t, &server.Options{MaxSessions: 1000, MaxUnconfirmed: 40})
	var got []*transport.Hello
	for i := range 100 {
		got = append(got, d.flood(fmt.Sprintf("203.0.113.%d:4000", i), 2)...)
	}
	if len(got) != 40 || d.srv.Stats().Sessions != 40 {
		t.Fatalf("bare polls from 100 addresses hold %d sessions (%d held), want 40", len(got), d.srv.Stats().Sessions)
	}
	// Confirming frees the unconfirmed budget; the sessions stay.
	for _, h := range got[:10] {
		d.confirm("203.0.113.250:4000", h)
	}
	if more := d.flood("198.51.100.1:5000", 20); len(more) != 10 {
		t.Fatalf("after 10 confirmations, %d new sessions, want 10", len(more))
	}
	if n := d.srv.Stats().Sessions; n != 50 {
		t.Fatalf("%d sessions held, want 50", n)
	}
}

// TestAdmissionClientKey: which requests share a client's limits. Forwarded
// addresses count only from trusted proxies, and then only the hops they vouch for.
func TestAdmissionClientKey(t *testing.T) {
	const xff = "X-Forwarded-For"
	// held reports how many sessions 20 bare polls got, each from the next of remotes
	// (cycling) with the next of forwarded (cycling, "" for none).
	held := func(d *direct, remotes []string, forwarded ...string) int {
		n := 0
		for i := range 20 {
			var hdr []string
			if len(forwarded) > 0 && forwarded[i%len(forwarded)] != "" {
				hdr = []string{xff, forwarded[i%len(forwarded)]}
			}
			if d.create(remotes[i%len(remotes)], hdr...) != nil {
				n++
			}
		}
		return n
	}
	one := []string{"203.0.113.7:4000"}
	spoofs := []string{"1.1.1.1", "2.2.2.2", "3.3.3.3, 4.4.4.4", "5.5.5.5"}

	// No trusted proxy: X-Forwarded-For is ignored, the peer is the client.
	if n := held(newDirect(t, nil), one, spoofs...); n != 16 {
		t.Errorf("untrusted peer with forged X-Forwarded-For: %d sessions, want 16", n)
	}
	// The ports of one address, and the addresses of one IPv6 /64, are one client.
	ports := []string{"203.0.113.7:1", "203.0.113.7:2", "[::ffff:203.0.113.7]:3"}
	if n := held(newDirect(t, nil), ports); n != 16 {
		t.Errorf("one address, many ports: %d sessions, want 16", n)
	}
	v6 := []string{"[2001:db8:1:2::1]:1", "[2001:db8:1:2:ffff::9]:2", "[2001:db8:1:2:abcd:1:2:3]:3"}
	if n := held(newDirect(t, nil), v6); n != 16 {
		t.Errorf("one IPv6 /64: %d sessions, want 16", n)
	}
	// Other /64s are other clients.
	if n := held(newDirect(t, nil), []string{"[2001:db8:1:2::1]:1", "[2001:db8:1:3::1]:1"}); n != 20 {
		t.Errorf("two IPv6 /64s: %d sessions, want 20", n)
	}
	// A loopback peer not listed as a proxy is not limited per client.
	if n := held(newDirect(t, nil), []string{"127.0.0.1:1"}); n != 20 {
		t.Errorf("loopback peer: %d sessions, want 20", n)
	}

	trusted := &server.Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("127.0.0.0/8")}}
	proxy := []string{"10.1.2.3:80", "10.9.9.9:80"}
	// Through trusted proxies the forwarded address is the client: clients the
	// proxies forward are each limited, whatever the client writes left of it.
	if n := held(newDirect(t, trusted), proxy, "198.51.100.9", "9.9.9.9, 198.51.100.9", "junk, 198.51.100.9", "198.51.100.9, 10.7.7.7"); n != 16 {
		t.Errorf("one client through trusted proxies: %d sessions, want 16", n)
	}
	if n := held(newDirect(t, trusted), proxy, "198.51.100.9", "198.51.100.10"); n != 20 {
		t.Errorf("two clients through trusted proxies: %d sessions, want 20", n)
	}
	// A loopback proxy that is listed counts its clients, and them only.
	if n := held(newDirect(t, trusted), []string{"127.0.0.1:1"}, "198.51.100.9"); n != 16 {
		t.Errorf("one client through a trusted loopback proxy: %d sessions, want 16", n)
	}
	// A trusted proxy that forwards nothing, or garbage, is itself the client.
	if n := held(newDirect(t, trusted), proxy[:1], "", "not an address"); n != 16 {
		t.Errorf("trusted proxy forwarding nothing usable: %d sessions, want 16", n)
	}
	// Every limit can be turned off.
	off := &server.Options{MaxSessionsPerClient: -1, MaxUnconfirmedPerClient: -1, MaxUnconfirmed: -1}
	if n := held(newDirect(t, off), one); n != 20 {
		t.Errorf("limits off: %d sessions, want 20", n)
	}
}

// TestAdmissionEveryTransport: the limits hold on every transport that creates a
// session, over real connections: poll, stream and WebSocket from one forwarded
// client share its limit, and another client still gets in on each.
func TestAdmissionEveryTransport(t *testing.T) {
	srv, base := start(t, echo, &server.Options{
		Logger:         slog.New(slog.DiscardHandler),
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
	})
	flooder, user := []string{"X-Forwarded-For", "203.0.113.7"}, []string{"X-Forwarded-For", "198.51.100.1"}
	for range 16 {
		if res := req(t, "GET", base+"/poll", "", flooder...); res.StatusCode != 200 {
			t.Fatalf("flood poll: %d", res.StatusCode)
		}
	}
	res := req(t, "GET", base+"/stream", "", flooder...)
	wantStatus(t, res, 429, closecode.TooMany)
	if res.Header.Get("Retry-After") == "" {
		t.Fatal("429 without Retry-After")
	}
	wantStatus(t, req(t, "GET", base+"/poll", "", flooder...), 429, closecode.TooMany)
	wantWSClose(t, wsDial(t, base, transport.ResumeReq{}, http.Header{"X-Forwarded-For": {"203.0.113.7"}}), closecode.TooMany)

	res = req(t, "GET", base+"/stream", "", user...)
	rd := transport.NewReader(res.Body, 1<<20)
	if f, err := rd.Next(); res.StatusCode != 200 || err != nil || f.Type != transport.FrameHello {
		t.Fatalf("another client's stream: %d %v %c", res.StatusCode, err, f.Type)
	}
	c := wsDial(t, base, transport.ResumeReq{}, http.Header{"X-Forwarded-For": {"198.51.100.1"}})
	wsHello(t, c)
	if n := srv.Stats().Sessions; n != 18 {
		t.Fatalf("%d sessions held, want 18", n)
	}
}

// TestAdmissionCostBeforeConfirmation: an unconfirmed session costs no goroutine.
// It reports the heap an unconfirmed poll session holds.
func TestAdmissionCostBeforeConfirmation(t *testing.T) {
	d := newDirect(t, &server.Options{MaxUnconfirmed: -1, MaxUnconfirmedPerClient: -1, MaxSessionsPerClient: -1})
	d.create("203.0.113.1:1") // warm up the pools and maps
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	g := runtime.NumGoroutine()
	const n = 2000
	for i := range n {
		d.create(fmt.Sprintf("203.0.%d.%d:1", i/250, i%250))
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if got := runtime.NumGoroutine(); got > g {
		t.Fatalf("%d unconfirmed sessions started %d goroutines", n, got-g)
	}
	t.Logf("an unconfirmed poll session holds about %d bytes of heap and no goroutine", (after.HeapAlloc-before.HeapAlloc)/n)
}
