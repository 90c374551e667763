package main

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	llclient "github.com/lifelinehq/lifeline/client"
	"github.com/lifelinehq/lifeline/session"
)

// soak runs sessions Go clients per transport, each on a server child of its own
// (one per transport, all at once), for d: every client writes a numbered message
// every interval (with a random phase) and checks that the echoes come back exactly
// once and in order. Every sample it prints each server's resident memory and
// goroutines; at the end the totals, and the servers' goroutines once the clients
// have closed.
func soak(transports []string, sessions int, d, interval, sample time.Duration) (ok bool) {
	type run struct {
		name    string
		child   *child
		pid     int
		base    string
		conns   []*llclient.Conn
		echoes  atomic.Int64
		errs    atomic.Int64
		g0      int
		r0, rHi int64
	}
	ok = true
	quiet := slog.New(slog.DiscardHandler)
	runs := make([]*run, len(transports))
	for i, tr := range transports {
		c, err := startChild(tr, "echo")
		if err != nil {
			log.Fatal(err)
		}
		r := &run{name: tr, child: c, pid: c.pid, base: c.base}
		r.g0, r.r0 = goroutines(r.base), rss(r.pid)
		runs[i] = r
	}
	defer func() {
		for _, r := range runs {
			r.child.stop()
		}
	}()
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: sessions + 10, MaxIdleConns: 4 * sessions}}
	// Dial at most 64 at a time: a burst of unconfirmed sessions beyond the server's
	// budget for them would be refused (docs/protocol.md §8).
	for _, r := range runs {
		r.conns = make([]*llclient.Conn, sessions)
		sem := make(chan struct{}, 64)
		var wg sync.WaitGroup
		for i := range r.conns {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				c, err := llclient.Dial(ctx, r.base, &llclient.Options{Transports: []string{r.name}, HTTPClient: hc, Logger: quiet})
				if err != nil {
					log.Fatalf("soak %s: dial: %v", r.name, err)
				}
				r.conns[i] = c
			}()
		}
		wg.Wait()
	}
	fmt.Printf("soak: %d sessions on each of %s for %v, a message each way every %v per session\n",
		sessions, strings.Join(transports, ", "), d, interval)
	for _, r := range runs {
		fmt.Printf("soak %-9s t=0s      server RSS %7.1f MiB  goroutines %6d (before the sessions: %.1f MiB, %d)\n",
			r.name, mib(rss(r.pid)), goroutines(r.base), mib(r.r0), r.g0)
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var wg sync.WaitGroup
	for _, r := range runs {
		for i, c := range r.conns {
			wg.Add(2)
			phase := time.Duration(i) * interval / time.Duration(sessions)
			go func() { // the writer
				defer wg.Done()
				t := time.NewTimer(phase)
				defer t.Stop()
				for n := 1; ; n++ {
					select {
					case <-ctx.Done():
						return
					case <-t.C:
					}
					if err := c.Write(ctx, session.Text, []byte(strconv.Itoa(n))); err != nil {
						if ctx.Err() == nil {
							r.errs.Add(1)
						}
						return
					}
					t.Reset(interval)
				}
			}()
			go func() { // the reader: echoes exactly once, in order
				defer wg.Done()
				for n := 1; ; n++ {
					_, p, err := c.Read(ctx)
					if err != nil {
						if ctx.Err() == nil {
							r.errs.Add(1)
						}
						return
					}
					if string(p) != strconv.Itoa(n) {
						r.errs.Add(1)
						log.Printf("soak %s: echo %q, want %d", r.name, p, n)
						return
					}
					r.echoes.Add(1)
				}
			}()
		}
	}
	t0 := time.Now()
	tick := time.NewTicker(sample)
	defer tick.Stop()
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case <-tick.C:
		}
		for _, r := range runs {
			m := rss(r.pid)
			r.rHi = max(r.rHi, m)
			fmt.Printf("soak %-9s t=%-6v server RSS %7.1f MiB  goroutines %6d  echoes %9d  errors %d\n",
				r.name, time.Since(t0).Round(time.Second), mib(m), goroutines(r.base), r.echoes.Load(), r.errs.Load())
		}
	}
	wg.Wait()
	for _, r := range runs {
		var resets, drops uint64
		for _, c := range r.conns {
			st := c.Stats()
			resets, drops = resets+st.Resets, drops+st.Drops
		}
		var cw sync.WaitGroup
		for _, c := range r.conns {
			cw.Add(1)
			go func() {
				defer cw.Done()
				c.Close(1000, "")
			}()
		}
		cw.Wait()
		hc.CloseIdleConnections()   // keep-alive connections hold a server goroutine each
		time.Sleep(2 * time.Second) // the servers' writers linger a second
		fmt.Printf("soak %-9s done: echoes %d, errors %d, resets %d, drops %d; server RSS peak %.1f MiB; "+
			"after closing: RSS %.1f MiB, goroutines %d (before the sessions: %d)\n",
			r.name, r.echoes.Load(), r.errs.Load(), resets, drops, mib(r.rHi), mib(rss(r.pid)), goroutines(r.base), r.g0)
		if r.errs.Load() > 0 || resets > 0 {
			ok = false
		}
	}
	return ok
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }
