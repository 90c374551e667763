package server_test

import (
	"runtime"
	"testing"
	"time"

	"github.com/lifelinehq/lifeline/server"
)

// BenchmarkWorstCaseSession measures what one session can make the server hold at
// most: WebSocket clients that each send 40 messages of 64 KiB and never read, on an
// echo server with the default limits (MaxQueuedBytes 1 MiB each way). It reports the
// heap per session after GC (bytes/session, which includes the test's own clients'
// small buffers) and the queued payload per session by the engine's accounting
// (queued/session); compare with 2×MaxQueuedBytes = 2097152. Run it with
// -benchtime=1x: each iteration starts a server.
func BenchmarkWorstCaseSession(b *testing.B) {
	const n = 16
	heap := func() int64 {
		runtime.GC()
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return int64(m.HeapAlloc)
	}
	var per, queued int64
	for range b.N {
		b.StopTimer()
		srv, base := start(b, echo, &server.Options{})
		before := heap()
		b.StartTimer()
		stop := stuff(b, base, n, 40, 64<<10)
		for i := 0; i < 2000; i++ {
			st := srv.Stats()
			if st.QueuedIn+st.QueuedOut >= n*2*(1<<20-64<<10) {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		time.Sleep(100 * time.Millisecond)
		b.StopTimer()
		per = (heap() - before) / n
		st := srv.Stats()
		queued = (st.QueuedIn + st.QueuedOut) / n
		stop()
	}
	b.ReportMetric(float64(per), "bytes/session")
	b.ReportMetric(float64(queued), "queued/session")
}
