package main

import (
	"fmt"
	"log"
	"os"
	"strings"
	"time"
)

// The table mode (make bench): every target measured in one run, each server a
// process of its own, each Lifeline target right after or before its anchor (the
// machine drifts over minutes), printed as one markdown table with the ratios to the
// anchors under it. docs/performance.md explains the columns.

// targets in the order they run: each Lifeline target beside its anchors. The anchors
// measured on echo alone: a raw TCP echo holds a connection idle but has no broadcast;
// a bare net/http echo (one POST, its body written back: the least any HTTP
// transport's echo can cost) holds nothing between requests.
var targets = []struct {
	tr, name    string
	idle, bcast bool
}{
	{"tcp", "raw TCP echo", true, false},
	{"bare", "bare coder/websocket", true, true},
	{"websocket", "Lifeline websocket", true, true},
	{"sio-ws", "Socket.IO 4.8 websocket", true, true},
	{"sio-poll", "Socket.IO 4.8 polling", true, true},
	{"barehttp", "bare net/http POST echo", false, false},
	{"stream", "Lifeline stream", true, true},
	{"poll", "Lifeline poll", true, true},
}

// ratios printed under the table: target over anchor.
var ratios = [][2]string{
	{"websocket", "bare"},
	{"websocket", "sio-ws"},
	{"stream", "sio-poll"},
	{"poll", "sio-poll"},
	{"stream", "barehttp"},
	{"poll", "barehttp"},
	{"stream", "websocket"},
	{"poll", "websocket"},
}

type tableParams struct {
	echoSessions    int
	echoTime        time.Duration
	fanSessions     int
	count1, count10 int // broadcasts at 1/s and at 10/s
}

type row struct {
	echo     echoResult
	idleKiB  float64
	b1, b10  bcastResult
	hasBcast bool
	hasIdle  bool
}

func table(quick bool) {
	p := tableParams{echoSessions: 1000, echoTime: 20 * time.Second, fanSessions: 10000, count1: 20, count10: 100}
	if quick {
		p = tableParams{echoSessions: 200, echoTime: 4 * time.Second, fanSessions: 2000, count1: 4, count10: 20}
	}
	ensureSocketIO() // before the clock starts
	started := time.Now()
	rows := map[string]*row{}
	for _, t := range targets {
		rows[t.tr] = &row{}
	}
	logf := func(format string, a ...any) {
		fmt.Fprintf(os.Stderr, "bench %5.0fs: "+format+"\n", append([]any{time.Since(started).Seconds()}, a...)...)
	}
	// Echo: every target in turn.
	for _, t := range targets {
		c, err := startChild(t.tr, "echo")
		if err != nil {
			log.Fatal(err)
		}
		r := echoRun(c.pid, c.base, t.tr, p.echoSessions, 1, p.echoTime)
		c.stop()
		rows[t.tr].echo = r
		logf("echo %-9s %7.2f us/echo %8.0f/s p50 %.2f ms p99 %.2f ms", t.tr, r.cpu, r.rate, ms(r.p50), ms(r.p99))
	}
	// Idle sessions, then broadcasts to them: every target in turn.
	send = sendBounded
	defer func() { send = hold }()
	fds0 := openFDs()
	for _, t := range targets {
		if !t.idle {
			continue
		}
		mode := "echo"
		if t.bcast {
			mode = "broadcast"
		}
		c, err := startChild(t.tr, mode)
		if err != nil {
			log.Fatal(err)
		}
		f, kib := idleRun(c, p.fanSessions)
		r := rows[t.tr]
		r.idleKiB, r.hasIdle = kib, true
		logf("idle %-9s %7.2f KiB/session", t.tr, kib)
		if t.bcast {
			r.hasBcast = true
			r.b1 = f.broadcast(p.count1, 1)
			logf("broadcast %-9s 1/s  delivered %.2f %% p99 %.2f ms", t.tr, r.b1.delivered, ms(r.b1.p99))
			r.b10 = f.broadcast(p.count10, 10)
			logf("broadcast %-9s 10/s delivered %.2f %% p99 %.2f ms", t.tr, r.b10.delivered, ms(r.b10.p99))
		}
		c.stop()
		f.close()
		settle(fds0) // the clients' goroutines end and their descriptors close
	}
	printTable(os.Stdout, p, quick, started, rows)
}

func printTable(w *os.File, p tableParams, quick bool, started time.Time, rows map[string]*row) {
	pinned := "not pinned"
	if pinCPU >= 0 {
		pinned = fmt.Sprintf("server pinned to CPU %d, clients to the others", pinCPU)
	}
	kind := "full"
	if quick {
		kind = "quick"
	}
	fmt.Fprintf(w, "\n%s run %s (%.0f min): echo %d sessions x 100 B for %v each; %d idle sessions; broadcasts of 100 B to them, %d at 1/s and %d at 10/s; %s\n\n",
		kind, started.Format("2006-01-02 15:04"), time.Since(started).Minutes(), p.echoSessions, p.echoTime, p.fanSessions, p.count1, p.count10, pinned)
	head := []string{"target", "CPU us/echo", "echoes/s", "echo p50 ms", "echo p99 ms", "RSS KiB/idle session",
		"bcast 1/s p99 ms", "delivered 1/s", "bcast 10/s p99 ms", "delivered 10/s", "CPU us/delivery 10/s"}
	fmt.Fprintln(w, "| "+strings.Join(head, " | ")+" |")
	fmt.Fprintln(w, "|---"+strings.Repeat("|---:", len(head)-1)+"|")
	for _, t := range targets {
		r := rows[t.tr]
		cells := []string{t.name, f2(r.echo.cpu), fmt.Sprintf("%.0f", r.echo.rate), f2(ms(r.echo.p50)), f2(ms(r.echo.p99)), "-"}
		if r.hasIdle {
			cells[5] = f2(r.idleKiB)
		}
		if r.hasBcast {
			cells = append(cells, f2(ms(r.b1.p99)), fmt.Sprintf("%.1f %%", r.b1.delivered), f2(ms(r.b10.p99)),
				fmt.Sprintf("%.1f %%", r.b10.delivered), f2(r.b10.cpu))
		} else {
			cells = append(cells, "-", "-", "-", "-", "-")
		}
		fmt.Fprintln(w, "| "+strings.Join(cells, " | ")+" |")
	}
	name := map[string]string{}
	for _, t := range targets {
		name[t.tr] = t.name
	}
	for _, q := range ratios {
		a, b := rows[q[0]], rows[q[1]]
		cells := []string{"*" + name[q[0]] + " / " + name[q[1]] + "*",
			ratio(a.echo.cpu, b.echo.cpu), ratio(a.echo.rate, b.echo.rate),
			ratio(ms(a.echo.p50), ms(b.echo.p50)), ratio(ms(a.echo.p99), ms(b.echo.p99))}
		if b.hasIdle {
			cells = append(cells, ratio(a.idleKiB, b.idleKiB)+fmt.Sprintf(" (%+.1f)", a.idleKiB-b.idleKiB))
		} else {
			cells = append(cells, "-")
		}
		if b.hasBcast {
			cells = append(cells,
				ratio(ms(a.b1.p99), ms(b.b1.p99)), fmt.Sprintf("%+.1f pt", a.b1.delivered-b.b1.delivered),
				ratio(ms(a.b10.p99), ms(b.b10.p99)), fmt.Sprintf("%+.1f pt", a.b10.delivered-b.b10.delivered),
				ratio(a.b10.cpu, b.b10.cpu))
		} else {
			cells = append(cells, "-", "-", "-", "-", "-")
		}
		fmt.Fprintln(w, "| "+strings.Join(cells, " | ")+" |")
	}
}

func f2(v float64) string { return fmt.Sprintf("%.2f", v) }

func ratio(a, b float64) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fx", a/b)
}

// openFDs counts this process's open descriptors (Linux /proc), or -1.
func openFDs() int {
	d, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(d)
}

// settle lets one target's clients go before the next target's open: their idle
// keep-alive connections are closed, and it waits (at most 30 s) until this process
// holds about as many descriptors as it did before the first (an overloaded target's
// 10,000 sessions could otherwise still hold theirs when the next opens its own, past
// the open-files limit).
func settle(before int) {
	time.Sleep(time.Second)
	for i := 0; i < 30; i++ {
		hold.CloseIdleConnections()
		sendBounded.CloseIdleConnections()
		if n := openFDs(); n < 0 || n <= before+100 {
			return
		}
		time.Sleep(time.Second)
	}
	fmt.Fprintf(os.Stderr, "bench: %d descriptors still open after 30 s (%d before the sessions)\n", openFDs(), before)
}
