package cluster_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

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
		front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			creation := r.Header.Get(transport.HeaderSession) == "" &&
				(r.Header.Get("Upgrade") == "" || wsSeen.Add(1) == 1)
			if mode == "local" || creation {
				a.srv.ServeHTTP(w, r)
			} else {
				bn.srv.ServeHTTP(w, r)
			}
		}))
		fp, err := faultproxy.New(strings.TrimPrefix(front.URL, "http://"))
		if err != nil {
			b.Fatal(err)
		}
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
		fp.Close()
		front.Close()
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
