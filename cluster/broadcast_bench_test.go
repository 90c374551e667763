package cluster_test

import (
	"context"
	"encoding/binary"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/lifelinehq/lifeline/client"
	"github.com/lifelinehq/lifeline/session"
)

// BenchmarkBroadcast measures a broadcast made on node a reaching 900 WebSocket
// sessions: all on a (one node), or 300 on each of three nodes (two thirds reached
// through NATS). It reports the p99 and the slowest delivery of each broadcast.
func BenchmarkBroadcast(b *testing.B) {
	const sessions = 900
	for _, nodes := range []int{1, 3} {
		b.Run(map[int]string{1: "one-node", 3: "three-nodes"}[nodes], func(b *testing.B) {
			ns := startNATS(b)
			var joined sync.WaitGroup
			var tc *testCluster
			tc = newTestCluster(b, ns, func(ctx context.Context, s *session.Session) {
				tc.owner(s.ID()).srv.Join("all", s)
				joined.Done()
				echo(ctx, s)
			}, []string{"a", "b", "c"}[:nodes]...)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var conns []*client.Conn
			for i := range sessions {
				joined.Add(1)
				conns = append(conns, dialB(b, ctx, tc.nodes[i%nodes].url, "websocket"))
			}
			joined.Wait()
			lat := make(chan time.Duration, sessions)
			var readers sync.WaitGroup
			for _, c := range conns {
				readers.Add(1)
				go func() {
					defer readers.Done()
					for {
						_, p, err := c.Read(ctx)
						if err != nil || len(p) != 8 {
							return
						}
						lat <- time.Since(time.Unix(0, int64(binary.BigEndian.Uint64(p))))
					}
				}()
			}
			var p99s, maxes []time.Duration
			for b.Loop() {
				msg := binary.BigEndian.AppendUint64(nil, uint64(time.Now().UnixNano()))
				tc.nodes[0].srv.Broadcast("all", session.Binary, msg)
				all := make([]time.Duration, 0, sessions)
				for range sessions {
					all = append(all, <-lat)
				}
				slices.Sort(all)
				p99s = append(p99s, all[len(all)*99/100])
				maxes = append(maxes, all[len(all)-1])
			}
			cancel()
			for _, c := range conns {
				c.CloseNow()
			}
			readers.Wait()
			slices.Sort(p99s)
			slices.Sort(maxes)
			b.ReportMetric(float64(p99s[len(p99s)/2].Microseconds()), "p99-us")
			b.ReportMetric(float64(maxes[len(maxes)/2].Microseconds()), "max-us")
		})
	}
}
