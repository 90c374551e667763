package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/lifelinehq/lifeline/server"
	"github.com/lifelinehq/lifeline/session"
)

// The broadcast mode: every session joins one group; the parent asks the child
// (GET /broadcast?t=<unix ns>) for a message to all, count times at rate per second,
// each carrying t, the time the parent asked for it (not the time the server got to
// the ask: a server still busy with the last broadcast must not hide that wait); each
// client notes when it gets it. Reported: the delivery
// delay's p50 and p99 and the share delivered, and the server's CPU per delivery.
//
// The bare baseline is coder/websocket's own fan-out at its simplest: the request
// writes the message to every connection in turn.

// broadcastPayload is a broadcast's text: the unix time in ns, then padding to 100 B.
func broadcastPayload(t time.Time) []byte {
	p := strconv.AppendInt(nil, t.UnixNano(), 10)
	return append(p, strings.Repeat(" ", 100-len(p))...)
}

// askedAt is the time the parent asked for a broadcast: its t parameter, else now.
func askedAt(r *http.Request) time.Time {
	if ns, err := strconv.ParseInt(r.URL.Query().Get("t"), 10, 64); err == nil {
		return time.Unix(0, ns)
	}
	return time.Now()
}

func payloadTime(p []byte) time.Time {
	ns, _ := strconv.ParseInt(strings.TrimSpace(string(p)), 10, 64)
	return time.Unix(0, ns)
}

// broadcastHandlers returns the child's handlers: the sessions' endpoint and
// /broadcast.
func broadcastHandlers(tr string) (sessions, trigger http.Handler) {
	if tr == "bare" {
		var mu sync.Mutex
		conns := map[*websocket.Conn]bool{}
		sessions = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, err := websocket.Accept(w, r, nil)
			if err != nil {
				return
			}
			defer c.CloseNow()
			mu.Lock()
			conns[c] = true
			mu.Unlock()
			c.Read(context.Background()) // until the client goes
			mu.Lock()
			delete(conns, c)
			mu.Unlock()
		})
		trigger = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p := broadcastPayload(askedAt(r))
			mu.Lock()
			all := make([]*websocket.Conn, 0, len(conns))
			for c := range conns {
				all = append(all, c)
			}
			mu.Unlock()
			n := 0
			for _, c := range all {
				if c.Write(r.Context(), websocket.MessageText, p) == nil {
					n++
				}
			}
			fmt.Fprint(w, n)
		})
		return sessions, trigger
	}
	var srv *server.Server
	srv = server.New(server.HandlerFunc(func(ctx context.Context, s *session.Session) {
		srv.Join("all", s)
		for {
			if _, _, err := s.Read(ctx); err != nil {
				return
			}
		}
	}), &server.Options{MaxSessions: 1 << 20, StreamBytes: 1 << 30})
	mux := http.NewServeMux()
	mux.Handle("/ll/", srv)
	trigger = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, srv.Broadcast("all", session.Text, broadcastPayload(askedAt(r))))
	})
	return mux, trigger
}

// fanout is the sessions of the idle and broadcast measurements: sessions clients of
// one target, each listening for broadcasts (a WebSocket read, a stream read, a poll
// or a Socket.IO GET held) and noting each one's delay.
type fanout struct {
	pid      int
	base, tr string
	sessions int
	cancel   context.CancelFunc

	mu     sync.Mutex
	delays []time.Duration
}

// openFanout opens sessions sessions, at most 64 handshakes at a time (a burst of
// unconfirmed sessions beyond the server's budget for them would be refused,
// docs/protocol.md §8), and waits for them all.
func openFanout(pid int, base, tr string, sessions int) *fanout {
	f := &fanout{pid: pid, base: base, tr: tr, sessions: sessions}
	ctx, cancel := context.WithCancel(context.Background())
	f.cancel = cancel
	on := func(p []byte) {
		d := time.Since(payloadTime(p))
		f.mu.Lock()
		f.delays = append(f.delays, d)
		f.mu.Unlock()
	}
	sem := make(chan struct{}, 64)
	var ready sync.WaitGroup
	for range sessions {
		ready.Add(1)
		sem <- struct{}{}
		go func() {
			c := open(base, tr)
			<-sem
			ready.Done()
			c.listen(ctx, on)
		}()
	}
	ready.Wait()
	return f
}

func (f *fanout) close() { f.cancel() }

// bcastResult is one broadcast run's outcome.
type bcastResult struct {
	delivered float64 // % of sessions x count
	p50, p99  time.Duration
	cpu       float64 // server CPU per delivery, us
}

// broadcast asks the child for count broadcasts at rate per second and waits up to
// 10 s after the last for their deliveries.
func (f *fanout) broadcast(count int, rate float64) bcastResult {
	f.mu.Lock()
	f.delays = f.delays[:0]
	f.mu.Unlock()
	trig := strings.TrimSuffix(f.base, "/ll") + "/broadcast"
	c0 := cpu(f.pid)
	every := time.Duration(float64(time.Second) / rate)
	next := time.Now()
	var asks sync.WaitGroup
	for range count {
		time.Sleep(time.Until(next))
		next = next.Add(every)
		asks.Add(1)
		go func() { // a slow fan-out must not hold the next broadcast back
			defer asks.Done()
			res, err := trigger.Get(trig + "?t=" + strconv.FormatInt(time.Now().UnixNano(), 10))
			if err != nil {
				log.Printf("broadcast %s: %v", f.tr, err)
				return
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
		}()
	}
	defer asks.Wait() // none outlives the run (nor the server, stopped after it)
	want := f.sessions * count
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		f.mu.Lock()
		n := len(f.delays)
		f.mu.Unlock()
		if n >= want {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	d := cpu(f.pid) - c0
	f.mu.Lock()
	ds := slices.Clone(f.delays)
	f.mu.Unlock()
	slices.Sort(ds)
	return bcastResult{
		delivered: 100 * float64(len(ds)) / float64(want),
		p50:       pct(ds, 0.5), p99: pct(ds, 0.99),
		cpu: float64(d.Microseconds()) / float64(max(len(ds), 1)),
	}
}

// trigger asks for broadcasts; a fan-out that takes longer than its timeout has failed.
var trigger = &http.Client{Timeout: time.Minute}

// pct returns the q quantile of sorted ds.
func pct(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	return ds[min(len(ds)-1, int(q*float64(len(ds))))]
}

// broadcastMode runs the broadcast mode against the child.
func broadcastMode(pid int, base, tr string, sessions, count int, rate float64) {
	f := openFanout(pid, base, tr, sessions)
	defer f.close()
	time.Sleep(time.Second) // let the handshakes' stragglers settle
	r := f.broadcast(count, rate)
	fmt.Printf("broadcast %-9s sessions %5d  %d at %g/s  delivered %6.2f %%  p50 %7.2f ms  p99 %7.2f ms  server CPU %5.2f us/delivery\n",
		tr, sessions, count, rate, r.delivered, ms(r.p50), ms(r.p99), r.cpu)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
