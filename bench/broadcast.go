package main

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/lifelinehq/lifeline/server"
	"github.com/lifelinehq/lifeline/session"
	"github.com/lifelinehq/lifeline/transport"
)

// The broadcast mode: every session joins one group; the parent asks the child
// (GET /broadcast) for a message to all, count times at rate per second, each carrying
// the time it was asked for; each client notes when it gets it. Reported: the delivery
// delay's p50 and p99 and the share delivered, and the server's CPU per delivery.
//
// The bare baseline is coder/websocket's own fan-out at its simplest: the request
// writes the message to every connection in turn.

// broadcastPayload is a broadcast's text: the unix time in ns, then padding to 100 B.
func broadcastPayload(t time.Time) []byte {
	p := strconv.AppendInt(nil, t.UnixNano(), 10)
	return append(p, strings.Repeat(" ", 100-len(p))...)
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
			p := broadcastPayload(time.Now())
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
		fmt.Fprint(w, srv.Broadcast("all", session.Text, broadcastPayload(time.Now())))
	})
	return mux, trigger
}

// broadcast runs the broadcast mode against the child.
func broadcast(pid int, base, tr string, sessions, count int, rate float64) {
	var mu sync.Mutex
	var delays []time.Duration
	var got atomic.Int64
	var ready sync.WaitGroup
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sem := make(chan struct{}, 200) // handshakes in flight
	for range sessions {
		ready.Add(1)
		sem <- struct{}{}
		go func() {
			c := openWS(base, tr == "bare")
			if tr != "bare" {
				c.c.Write(ctx, websocket.MessageText, []byte("P")) // confirms the session
			}
			<-sem
			ready.Done()
			n := uint64(0)
			var ack []byte
			for {
				_, p, err := c.c.Read(ctx)
				if err != nil {
					return
				}
				if tr != "bare" {
					if len(p) == 0 || p[0] != transport.FrameText {
						continue
					}
					p = p[1:]
					if n++; n%32 == 0 {
						ack = transport.AppendNum(ack[:0], transport.FrameAck, n)
						c.c.Write(ctx, websocket.MessageText, ack)
					}
				}
				d := time.Since(payloadTime(p))
				got.Add(1)
				mu.Lock()
				delays = append(delays, d)
				mu.Unlock()
			}
		}()
	}
	ready.Wait()
	time.Sleep(time.Second) // let the handshakes' stragglers settle
	trig := strings.TrimSuffix(base, "/ll") + "/broadcast"
	c0 := cpu(pid)
	every := time.Duration(float64(time.Second) / rate)
	next := time.Now()
	reached := 0
	for range count {
		time.Sleep(time.Until(next))
		next = next.Add(every)
		res, err := http.Get(trig)
		if err != nil {
			log.Fatal(err)
		}
		var n int
		fmt.Fscan(res.Body, &n)
		res.Body.Close()
		reached += n
	}
	want := int64(sessions * count)
	for deadline := time.Now().Add(10 * time.Second); got.Load() < want && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	d := cpu(pid) - c0
	mu.Lock()
	ds := slices.Clone(delays)
	mu.Unlock()
	slices.Sort(ds)
	pct := func(q float64) time.Duration {
		if len(ds) == 0 {
			return 0
		}
		return ds[min(len(ds)-1, int(q*float64(len(ds))))]
	}
	fmt.Printf("broadcast %-9s sessions %5d  %d at %g/s  delivered %6.2f %%  p50 %7.2f ms  p99 %7.2f ms  server CPU %5.2f us/delivery\n",
		tr, sessions, count, rate, 100*float64(len(ds))/float64(want),
		float64(pct(0.5).Microseconds())/1000, float64(pct(0.99).Microseconds())/1000,
		float64(d.Microseconds())/float64(max(len(ds), 1)))
}
