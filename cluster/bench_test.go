package cluster_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/lifelinehq/lifeline/client"
	"github.com/lifelinehq/lifeline/integration/faultproxy"
	"github.com/lifelinehq/lifeline/session"
	"github.com/lifelinehq/lifeline/transport"
)

// BenchmarkEcho measures one echo round trip (write, read the echo) on each
// transport, local (every request on the owner) against relayed (the session is
// created on node a, and every later request, WebSocket included, lands on node b
// and is relayed to a over NATS).
func BenchmarkEcho(b *testing.B) {
	ns := startNATS(b)
	tc := newTestCluster(b, ns, echo, "a", "b")
	a, bn := tc.nodes[0], tc.nodes[1]
	for _, mode := range []string{"local", "relayed"} {
		var wsSeen atomic.Int64
		fp, closeFront := splitFront(b, a, bn, func(r *http.Request) bool {
			creation := r.Header.Get(transport.HeaderSession) == "" &&
				(r.Header.Get("Upgrade") == "" || wsSeen.Add(1) == 1)
			return mode == "local" || creation
		})
		for _, tr := range []string{"websocket", "stream", "poll"} {
			b.Run(mode+"/"+tr, func(b *testing.B) {
				ctx := context.Background()
				wsSeen.Store(0)
				relayed := tc.relayed()
				c := dialB(b, ctx, "http://"+fp.Addr(), tr)
				if tr == "websocket" {
					fp.CutAll() // the WebSocket comes back through b
				}
				msg := []byte("0123456789abcdef0123456789abcdef")
				roundTrip := func() {
					if err := c.Write(ctx, session.Text, msg); err != nil {
						b.Fatal(err)
					}
					if _, _, err := c.Read(ctx); err != nil {
						b.Fatal(err)
					}
				}
				roundTrip()
				cpu0, ncpu0 := processCPU(), ns.cpu()
				b.ResetTimer()
				for b.Loop() {
					roundTrip()
				}
				b.StopTimer()
				// CPU of this process (client and nodes) and of nats-server, per echo.
				b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/op")
				b.ReportMetric(float64(ns.cpu()-ncpu0)/float64(b.N), "nats-cpu-ns/op")
				if mode == "relayed" && tc.relayed() == relayed {
					b.Fatal("nothing relayed")
				}
				c.CloseNow()
			})
		}
		closeFront()
	}
}

// splitFront is a front that gives a request to node a when toA says so, else to
// node b, behind a fault proxy (whose CutAll moves WebSockets); closeFront stops both.
func splitFront(b *testing.B, a, bn *node, toA func(*http.Request) bool) (fp *faultproxy.Proxy, closeFront func()) {
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if toA(r) {
			a.srv.ServeHTTP(w, r)
		} else {
			bn.srv.ServeHTTP(w, r)
		}
	}))
	fp, err := faultproxy.New(strings.TrimPrefix(front.URL, "http://"))
	if err != nil {
		front.Close()
		b.Fatal(err)
	}
	return fp, func() { fp.Close(); front.Close() }
}

// BenchmarkNATSRoundTrip is the floor under a relayed echo: one message from one
// NATS connection to another and one back, each delivered to an asynchronous
// subscription as the cluster's are, with no Lifeline in between. A relayed echo
// costs a local echo plus at least this.
func BenchmarkNATSRoundTrip(b *testing.B) {
	ns := startNATS(b)
	a, err := nats.Connect(ns.URL())
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	o, err := nats.Connect(ns.URL())
	if err != nil {
		b.Fatal(err)
	}
	defer o.Close()
	if _, err := o.Subscribe("rtt.owner", func(m *nats.Msg) { o.Publish("rtt.relay", m.Data) }); err != nil {
		b.Fatal(err)
	}
	back := make(chan struct{}, 1)
	if _, err := a.Subscribe("rtt.relay", func(*nats.Msg) { back <- struct{}{} }); err != nil {
		b.Fatal(err)
	}
	if err := o.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := a.Flush(); err != nil {
		b.Fatal(err)
	}
	msg := []byte("0123456789abcdef0123456789abcdef")
	cpu0, ncpu0 := processCPU(), ns.cpu()
	for b.Loop() {
		if err := a.Publish("rtt.owner", msg); err != nil {
			b.Fatal(err)
		}
		select {
		case <-back:
		case <-time.After(5 * time.Second):
			b.Fatal("no answer")
		}
	}
	b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/op")
	b.ReportMetric(float64(ns.cpu()-ncpu0)/float64(b.N), "nats-cpu-ns/op")
}

// BenchmarkIdleWebSocket measures what an idle WebSocket session costs this process
// (both nodes and the Go clients), local against relayed: 300 sessions created on
// node a, then, relayed, every WebSocket cut and resumed through node b. It reports
// heap and stack bytes and goroutines per session; their difference is the relay's.
func BenchmarkIdleWebSocket(b *testing.B) {
	const n = 300
	ns := startNATS(b)
	tc := newTestCluster(b, ns, echo, "a", "b")
	a, bn := tc.nodes[0], tc.nodes[1]
	for _, mode := range []string{"local", "relayed"} {
		b.Run(mode, func(b *testing.B) {
			for range b.N {
				var created atomic.Int64
				fp, closeFront := splitFront(b, a, bn, func(*http.Request) bool {
					return mode == "local" || created.Load() < n
				})
				ctx := context.Background()
				runtime.GC()
				var before runtime.MemStats
				runtime.ReadMemStats(&before)
				g0 := runtime.NumGoroutine()
				relayed := bn.cl.Stats().RelayedWS
				var conns []*client.Conn
				for range n {
					c := dialB(b, ctx, "http://"+fp.Addr(), "websocket")
					conns = append(conns, c)
					created.Add(1)
				}
				if mode == "relayed" {
					fp.CutAll()
					for i := 0; bn.cl.Stats().RelayedWS < relayed+n; i++ {
						if i == 1000 {
							b.Fatalf("%d of %d WebSockets relayed", bn.cl.Stats().RelayedWS-relayed, n)
						}
						time.Sleep(10 * time.Millisecond)
					}
				}
				for _, c := range conns { // every session is attached and answers
					if err := c.Write(ctx, session.Text, []byte("x")); err != nil {
						b.Fatal(err)
					}
					if _, _, err := c.Read(ctx); err != nil {
						b.Fatal(err)
					}
				}
				time.Sleep(1500 * time.Millisecond) // past the writers' linger
				runtime.GC()
				var after runtime.MemStats
				runtime.ReadMemStats(&after)
				b.ReportMetric(float64(after.HeapInuse-before.HeapInuse)/n, "heap-B/session")
				b.ReportMetric(float64(after.StackInuse-before.StackInuse)/n, "stack-B/session")
				b.ReportMetric(float64(runtime.NumGoroutine()-g0)/n, "goroutines/session")
				for _, c := range conns {
					c.CloseNow()
				}
				closeFront()
			}
		})
	}
}

// processCPU returns the user and system CPU time of this process.
func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cpu returns the user and system CPU time of the nats-server process (Linux /proc,
// in clock ticks of 10 ms).
func (ns *natsServer) cpu() time.Duration {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(ns.cmd.Process.Pid) + "/stat")
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:]) // fields from the 3rd
	ut, _ := strconv.ParseInt(f[11], 10, 64)                 // utime: field 14
	st, _ := strconv.ParseInt(f[12], 10, 64)                 // stime: field 15
	return time.Duration(ut+st) * 10 * time.Millisecond
}
