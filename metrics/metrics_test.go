package metrics_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/lifelinehq/lifeline/client"
	"github.com/lifelinehq/lifeline/closecode"
	"github.com/lifelinehq/lifeline/metrics"
	"github.com/lifelinehq/lifeline/server"
	"github.com/lifelinehq/lifeline/session"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// room is the test's handler: every session joins the group "room"; each message is
// broadcast to the room, "bye:CODE" closes the session with CODE, and "hold" stops
// reading, so what the client sends next stays in the server's inbound queue.
func room(srv **server.Server) server.HandlerFunc {
	return func(ctx context.Context, s *session.Session) {
		(*srv).Join("room", s)
		for {
			typ, p, err := s.Read(ctx)
			if err != nil {
				return
			}
			msg := string(p)
			switch {
			case msg == "hold":
				<-ctx.Done()
				return
			case strings.HasPrefix(msg, "bye:"):
				code, _ := strconv.Atoi(msg[4:])
				s.Close(closecode.Code(code), "bye")
				return
			}
			(*srv).Broadcast("room", typ, p)
		}
	}
}

// bench is a server with its metrics at /metrics on a chi router, served on
// 127.0.0.1 behind a gate that can refuse WebSocket handshakes and a listener that
// can cut every connection.
type bench struct {
	srv    *server.Server
	url    string // the Lifeline mount
	scrape string // the metrics endpoint
	wsOff  atomic.Bool
	ln     *trackListener
}

func newBench(t *testing.T) *bench {
	b := &bench{}
	b.srv = server.New(room(&b.srv), &server.Options{Logger: quiet, Heartbeat: 200 * time.Millisecond, HeartbeatTimeout: 300 * time.Millisecond})
	col, err := metrics.New(b.srv, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(col.Close)
	reg := prometheus.NewRegistry()
	reg.MustRegister(col)

	r := chi.NewRouter()
	r.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.HTTPErrorOnError}))
	r.Mount("/ll", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if b.wsOff.Load() && strings.HasSuffix(r.URL.Path, "/ws") {
			http.NotFound(w, r) // as a proxy that does not pass WebSockets would
			return
		}
		b.srv.ServeHTTP(w, r)
	}))
	ts := httptest.NewUnstartedServer(r)
	b.ln = &trackListener{Listener: ts.Listener}
	ts.Listener = b.ln
	ts.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		b.srv.Shutdown(ctx)
		ts.Close()
	})
	b.url, b.scrape = ts.URL+"/ll", ts.URL+"/metrics"
	return b
}

// trackListener remembers the connections it accepted, so a test can cut them all.
type trackListener struct {
	net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func (l *trackListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.mu.Lock()
		l.conns = append(l.conns, c)
		l.mu.Unlock()
	}
	return c, err
}

func (l *trackListener) cut() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range l.conns {
		c.Close()
	}
	l.conns = nil
}

// scraped is one scrape, parsed by Prometheus' own text parser.
type scraped map[string]*dto.MetricFamily

func (b *bench) get(t *testing.T) scraped {
	t.Helper()
	resp, err := http.Get(b.scrape)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s", resp.Status)
	}
	if ct := resp.Header.Get("Content-Type"); expfmt.ResponseFormat(resp.Header).FormatType() != expfmt.TypeTextPlain {
		t.Fatalf("GET /metrics: Content-Type %q, want the text format", ct)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parsing the scrape: %v", err)
	}
	return fams
}

// value returns the value of the metric name with the labels (name=value pairs); a
// histogram gives its sample count. It fails the test if the series is missing.
func (s scraped) value(t *testing.T, name string, labels ...string) float64 {
	t.Helper()
	f := s[name]
	if f == nil {
		t.Fatalf("no metric %s in the scrape", name)
	}
next:
	for _, m := range f.GetMetric() {
		for i := 0; i < len(labels); i += 2 {
			found := false
			for _, lp := range m.GetLabel() {
				found = found || (lp.GetName() == labels[i] && lp.GetValue() == labels[i+1])
			}
			if !found {
				continue next
			}
		}
		switch f.GetType() {
		case dto.MetricType_COUNTER:
			return m.GetCounter().GetValue()
		case dto.MetricType_GAUGE:
			return m.GetGauge().GetValue()
		case dto.MetricType_HISTOGRAM:
			return float64(m.GetHistogram().GetSampleCount())
		}
		t.Fatalf("%s has type %s", name, f.GetType())
	}
	t.Fatalf("no series %s%v in the scrape", name, labels)
	return 0
}

func (s scraped) histSum(t *testing.T, name string) float64 {
	t.Helper()
	s.value(t, name)
	return s[name].GetMetric()[0].GetHistogram().GetSampleSum()
}

// want checks metrics against expected values.
func (s scraped) want(t *testing.T, when string, exp map[string]float64) {
	t.Helper()
	for k, v := range exp {
		name, labels := k, []string(nil)
		if i := strings.IndexByte(k, '{'); i >= 0 {
			name = k[:i]
			for _, kv := range strings.Split(strings.Trim(k[i:], "{}"), ",") {
				n, val, _ := strings.Cut(kv, "=")
				labels = append(labels, n, val)
			}
		}
		if got := s.value(t, name, labels...); got != v {
			t.Errorf("%s: %s = %v, want %v", when, k, got, v)
		}
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// until waits for cond, which the test's own actions make true; the deadline only
// keeps a broken build from hanging.
func until(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("never saw %s", what)
		}
	}
}

func dial(t *testing.T, url string, o *client.Options) *client.Conn {
	t.Helper()
	o.Logger = quiet
	c, err := client.Dial(ctxT(t), url, o)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.CloseNow() })
	return c
}

// TestScrape drives real sessions on each transport, then a resume, a fallback, an
// upgrade, a reset and a held queue, scraping after each step.
func TestScrape(t *testing.T) {
	b := newBench(t)
	zero := map[string]float64{
		"lifeline_sessions{transport=websocket}": 0, "lifeline_sessions{transport=stream}": 0,
		"lifeline_sessions{transport=poll}": 0, "lifeline_sessions{transport=none}": 0,
		"lifeline_sessions_created_total": 0, "lifeline_sessions_resumed_total": 0,
		"lifeline_sessions_reset_total": 0, "lifeline_transport_fallbacks_total": 0,
		"lifeline_transport_upgrades_total":     0,
		"lifeline_messages_total{direction=in}": 0, "lifeline_messages_total{direction=out}": 0,
		"lifeline_bytes_total{direction=in}": 0, "lifeline_bytes_total{direction=out}": 0,
		"lifeline_queued_bytes{direction=in}": 0, "lifeline_queued_bytes{direction=out}": 0,
		"lifeline_broadcast_fanout": 0, "lifeline_broadcast_duration_seconds": 0,
	}
	b.get(t).want(t, "at the start", zero)

	var bytesIn, bytesOut float64
	for i, tr := range []string{"websocket", "stream", "poll"} {
		c := dial(t, b.url, &client.Options{Transports: []string{tr}})
		const n = 3
		for j := range n {
			if err := c.Write(ctxT(t), session.Text, fmt.Appendf(nil, "%s %d", tr, j)); err != nil {
				t.Fatal(err)
			}
			if _, p, err := c.Read(ctxT(t)); err != nil || string(p) != fmt.Sprintf("%s %d", tr, j) {
				t.Fatalf("broadcast back: %q, %v", p, err)
			}
		}
		k := float64(i)
		// The server counts a message out once its write returns, which may be after
		// the client read it, and in once delivered, which may be after the handler
		// wrote it back (the handler's write goes out on its own goroutine).
		until(t, "the count of messages out", func() bool { return b.srv.Stats().MessagesOut == uint64(n*(i+1)) })
		until(t, "the count of messages in", func() bool { return b.srv.Stats().MessagesIn == uint64((n+1)*i+n) })
		// Broadcast is observed once it returns, which may be after the client read.
		until(t, "the broadcasts observed", func() bool { return b.get(t).histSum(t, "lifeline_broadcast_fanout") == n*(k+1) })
		s := b.get(t)
		s.want(t, "on "+tr, map[string]float64{
			"lifeline_sessions{transport=" + tr + "}": 1, "lifeline_sessions_created_total": k + 1,
			"lifeline_messages_total{direction=in}": (n+1)*k + n, "lifeline_messages_total{direction=out}": n * (k + 1),
			"lifeline_broadcast_fanout": n * (k + 1), "lifeline_broadcast_duration_seconds": n * (k + 1),
			"lifeline_transport_fallbacks_total": 0, "lifeline_transport_upgrades_total": 0,
		})
		if sum := s.histSum(t, "lifeline_broadcast_fanout"); sum != n*(k+1) {
			t.Errorf("on %s: fan-out sum %v, want %v (each broadcast reached one session)", tr, sum, n*(k+1))
		}
		if sum := s.histSum(t, "lifeline_broadcast_duration_seconds"); !(sum > 0) || math.IsInf(sum, 0) {
			t.Errorf("on %s: broadcast duration sum %v", tr, sum)
		}
		in, out := s.value(t, "lifeline_bytes_total", "direction", "in"), s.value(t, "lifeline_bytes_total", "direction", "out")
		if in <= bytesIn || out <= bytesOut {
			t.Errorf("on %s: bytes in %v out %v, not above %v and %v", tr, in, out, bytesIn, bytesOut)
		}
		bytesIn, bytesOut = in, out

		code := 4000 + i
		if err := c.Write(ctxT(t), session.Text, fmt.Appendf(nil, "bye:%d", code)); err != nil {
			t.Fatal(err)
		}
		var ce *session.CloseError
		if _, _, err := c.Read(ctxT(t)); !errors.As(err, &ce) || int(ce.Code) != code {
			t.Fatalf("after bye: %v, want close code %d", err, code)
		}
		until(t, "the session end", func() bool { return b.srv.Stats().Sessions == 0 })
		// The bye is counted in once its delivery returns, which may be after the
		// handler read it and ended the session.
		until(t, "the bye counted in", func() bool { return b.srv.Stats().MessagesIn == uint64((n+1)*(i+1)) })
		b.get(t).want(t, "after "+tr+" closed", map[string]float64{
			"lifeline_sessions{transport=" + tr + "}":                         0,
			"lifeline_sessions_closed_total{code=" + strconv.Itoa(code) + "}": 1,
			"lifeline_messages_total{direction=in}":                           (n + 1) * (k + 1),
		})
	}

	// A reset: a request that names a session the server does not know.
	req, _ := http.NewRequest(http.MethodGet, b.url+"/poll", nil)
	req.Header.Set("Lifeline-Session", "no-such-session")
	req.Header.Set("Lifeline-Token", "x")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	b.get(t).want(t, "after an unknown session", map[string]float64{"lifeline_sessions_reset_total": 1})

	// A cut while WebSocket is refused: the session resumes on the stream (a resume
	// and a fallback); WebSocket back, a re-probe moves it up again (an upgrade).
	c := dial(t, b.url, &client.Options{ReprobeMin: 20 * time.Millisecond, ReprobeMax: 40 * time.Millisecond,
		BackoffMin: 10 * time.Millisecond, BackoffMax: 50 * time.Millisecond})
	if c.Transport() != "websocket" {
		t.Fatalf("on %s, want websocket", c.Transport())
	}
	b.wsOff.Store(true)
	b.ln.cut()
	until(t, "the fallback", func() bool { return c.Transport() == "stream" })
	s := b.get(t)
	s.want(t, "after the fallback", map[string]float64{
		"lifeline_sessions{transport=stream}": 1, "lifeline_sessions{transport=websocket}": 0,
		"lifeline_transport_fallbacks_total": 1, "lifeline_transport_upgrades_total": 0,
	})
	resumed := s.value(t, "lifeline_sessions_resumed_total")
	if resumed < 1 {
		t.Errorf("after the fallback: %v resumes", resumed)
	}
	b.wsOff.Store(false)
	until(t, "the upgrade", func() bool { return c.Transport() == "websocket" })
	s = b.get(t)
	s.want(t, "after the upgrade", map[string]float64{
		"lifeline_sessions{transport=stream}": 0, "lifeline_sessions{transport=websocket}": 1,
		"lifeline_transport_fallbacks_total": 1, "lifeline_transport_upgrades_total": 1,
	})
	if r := s.value(t, "lifeline_sessions_resumed_total"); r <= resumed {
		t.Errorf("after the upgrade: %v resumes, want more than %v", r, resumed)
	}

	// A handler that stops reading: what the client sends next stays queued inbound.
	if err := c.Write(ctxT(t), session.Text, []byte("hold")); err != nil {
		t.Fatal(err)
	}
	held := []string{"12345", "1234567890"}
	before := b.srv.Stats().MessagesIn
	for _, m := range held {
		if err := c.Write(ctxT(t), session.Text, []byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	until(t, "the held messages arrive", func() bool { return b.srv.Stats().MessagesIn >= before+uint64(len(held)) })
	b.get(t).want(t, "with the handler not reading", map[string]float64{
		"lifeline_queued_bytes{direction=in}": float64(len(held[0]) + len(held[1])),
	})
	if err := c.Close(closecode.Normal, ""); err != nil {
		t.Fatal(err)
	}
	until(t, "the session end", func() bool { return b.srv.Stats().Sessions == 0 })
	b.get(t).want(t, "at the end", map[string]float64{
		"lifeline_queued_bytes{direction=in}": 0, "lifeline_sessions_created_total": 4,
		"lifeline_sessions_closed_total{code=1000}": 1,
	})
}

// TestCollectorClose: after Close, closes are no longer counted.
func TestCollectorClose(t *testing.T) {
	b := newBench(t)
	col, err := metrics.New(b.srv, &metrics.Options{Namespace: "other"})
	if err != nil {
		t.Fatal(err)
	}
	var closed atomic.Int32
	remove := b.srv.Observe(server.Observer{Closed: func(closecode.Code, string) { closed.Add(1) }})
	defer remove()
	col.Close()
	col.Close() // twice is fine
	c := dial(t, b.url, &client.Options{})
	c.Write(ctxT(t), session.Text, []byte("bye:4100"))
	c.Read(ctxT(t))
	until(t, "the close observed", func() bool { return closed.Load() == 1 })
	reg := prometheus.NewRegistry()
	reg.MustRegister(col)
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() == "other_sessions_closed_total" && len(f.GetMetric()) > 0 {
			t.Errorf("a closed Collector counted %v", f.GetMetric())
		}
		if f.GetName() == "other_sessions_created_total" && f.GetMetric()[0].GetCounter().GetValue() != 1 {
			t.Errorf("created %v, want 1 (Stats is still read)", f.GetMetric())
		}
	}
}

// TestBadOptions: every invalid option is refused with an error that names it.
func TestBadOptions(t *testing.T) {
	srv := server.New(server.HandlerFunc(func(context.Context, *session.Session) {}), &server.Options{Logger: quiet})
	for _, tc := range []struct {
		srv  *server.Server
		opts *metrics.Options
		want string
	}{
		{nil, nil, "nil *server.Server"},
		{srv, &metrics.Options{Namespace: "life-line"}, `namespace "life-line"`},
		{srv, &metrics.Options{ConstLabels: prometheus.Labels{"code": "x"}}, `const label "code"`},
		{srv, &metrics.Options{ConstLabels: prometheus.Labels{"0node": "x"}}, `const label "0node"`},
		{srv, &metrics.Options{DurationBuckets: []float64{0.1, 0.1}}, "DurationBuckets must increase"},
		{srv, &metrics.Options{FanoutBuckets: []float64{10, 1}}, "FanoutBuckets must increase"},
	} {
		c, err := metrics.New(tc.srv, tc.opts)
		if err == nil || !strings.Contains(err.Error(), tc.want) || c != nil {
			t.Errorf("New(%v, %+v) = %v, %v; want an error with %q", tc.srv != nil, tc.opts, c, err, tc.want)
		}
	}
	// Two servers in one registry: a const label tells them apart.
	reg := prometheus.NewRegistry()
	for _, node := range []string{"a", "b"} {
		c, err := metrics.New(srv, &metrics.Options{ConstLabels: prometheus.Labels{"node": node}})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := reg.Register(c); err != nil {
			t.Fatalf("node %s: %v", node, err)
		}
	}
}
