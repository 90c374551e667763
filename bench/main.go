// Command bench measures a Lifeline server beside its baselines: each server runs as
// a child process of its own (pinned to the last core with taskset where there are two
// or more; this process, the clients, on the others); this process drives it over
// loopback and reads the child's CPU time and resident memory from /proc.
//
//	go run .                       # the table of docs/performance.md (make bench)
//	go run . -quick                # the same, reduced (make bench BENCHFLAGS=-quick)
//	go run . -mode echo -transport websocket -sessions 1000 -time 10s
//	go run . -mode idle -transport poll -sessions 10000
//	go run . -mode broadcast -transport stream -sessions 10000 -count 20 -rate 10
//	go run . -mode soak -sessions 1000 -duration 10m
//
// Targets (-transport): Lifeline's websocket, stream and poll, and the baselines tcp
// (a raw TCP echo server, tcp.go), bare (a bare coder/websocket server), barehttp
// (net/http answering each POST with its body), sio-ws and sio-poll (Socket.IO 4.8 on
// WebSocket and on long-polling: socketio/server.js, installed with npm ci when
// missing, driven by the Engine.IO client of socketio.go). echo reports server CPU per
// echoed 100-byte message, echoes/s and the round trip's p50 and p99; idle the
// server's resident memory per idle session; broadcast (broadcast.go) the delivery
// delay's p50 and p99 of 100-byte broadcasts to every session, the share delivered
// and the server's CPU per delivery; table (table.go) all of them for every target;
// soak (soak.go) runs -sessions Go clients on each of -transports for -duration, and
// prints each server's resident memory and goroutines every -sample.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	pprofhttp "net/http/pprof"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/coder/websocket"

	"github.com/lifelinehq/lifeline/internal/lltest"
	"github.com/lifelinehq/lifeline/server"
)

func main() {
	serve := flag.String("serve", "", "internal: run the server for this transport")
	mode := flag.String("mode", "table", "table, echo, idle, broadcast or soak")
	tr := flag.String("transport", "websocket", "websocket, stream, poll; baselines tcp, bare, barehttp, sio-ws, sio-poll")
	quick := flag.Bool("quick", false, "table mode: a reduced run (fewer sessions, shorter runs)")
	pin := flag.Bool("pin", true, "pin the server to the last core and this process to the others (taskset)")
	sessions := flag.Int("sessions", 1000, "concurrent sessions")
	echoTime := flag.Duration("time", 10*time.Second, "how long an echo run measures, after a fifth as long to warm up (echo mode)")
	window := flag.Int("window", 1, "messages in flight per session (echo mode)")
	duration := flag.Duration("duration", 10*time.Minute, "how long to run (soak mode)")
	interval := flag.Duration("interval", time.Second, "time between a session's messages (soak mode)")
	sample := flag.Duration("sample", 10*time.Second, "time between samples (soak mode)")
	soakTransports := flag.String("transports", "websocket,stream,poll", "transports, each on a server of its own (soak mode)")
	count := flag.Int("count", 20, "broadcasts (broadcast mode)")
	rate := flag.Float64("rate", 10, "broadcasts per second (broadcast mode)")
	flag.DurationVar(&ackDelay, "ackdelay", ackDelay, "how long a Lifeline client waits at least to acknowledge what it received (protocol.md §5)")
	flag.DurationVar(&ackJitter, "ackjitter", ackJitter, "the most a Lifeline client adds at random to -ackdelay (protocol.md §5)")
	flag.Parse()
	if *serve != "" {
		runServer(*serve)
		return
	}
	raiseNoFile()
	if *pin {
		pinSelf()
	}
	switch *mode {
	case "table":
		table(*quick)
		return
	case "soak":
		if !soak(strings.Split(*soakTransports, ","), *sessions, *duration, *interval, *sample) {
			os.Exit(1)
		}
		return
	}
	childMode := "echo"
	if *mode == "broadcast" || *mode == "idle" {
		childMode, send = "broadcast", sendBounded
	}
	c, err := startChild(*tr, childMode)
	if err != nil {
		log.Fatal(err)
	}
	defer c.stop()
	switch *mode {
	case "echo":
		r := echoRun(c.pid, c.base, *tr, *sessions, *window, *echoTime)
		fmt.Printf("echo %-9s sessions %5d  window %3d  echoes %7d  server CPU %6.2f us/echo  %7.0f echoes/s  p50 %7.2f ms  p99 %7.2f ms\n",
			*tr, *sessions, *window, r.n, r.cpu, r.rate, ms(r.p50), ms(r.p99))
	case "idle":
		f, kib := idleRun(c, *sessions)
		g := ""
		if goServer(*tr) {
			g = fmt.Sprintf("  goroutines %.2f/session", float64(goroutines(c.base))/float64(*sessions))
		}
		f.close()
		fmt.Printf("idle %-9s sessions %5d  server RSS %6.2f KiB/session%s\n", *tr, *sessions, kib, g)
	case "broadcast":
		broadcastMode(c.pid, c.base, *tr, *sessions, *count, *rate)
	default:
		log.Fatalf("unknown mode %q", *mode)
	}
}

// runServer is the child: an echo server on a free loopback port, which it prints.
func runServer(tr string) {
	if p := os.Getenv("LLBENCH_CPUPROFILE"); p != "" {
		f, err := os.Create(p)
		if err != nil {
			log.Fatal(err)
		}
		pprof.StartCPUProfile(f)
		go func() { // the parent kills the child: write the profile after a while
			time.Sleep(4 * time.Second)
			pprof.StopCPUProfile()
			f.Close()
		}()
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	if tr == "tcp" {
		fmt.Println(ln.Addr().String())
		serveTCP(ln)
		return
	}
	var h, trigger http.Handler
	if os.Getenv("LLBENCH_MODE") == "broadcast" {
		h, trigger = broadcastHandlers(tr)
	} else if tr == "barehttp" {
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			w.Write(b)
		})
	} else if tr == "bare" {
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, err := websocket.Accept(w, r, nil)
			if err != nil {
				return
			}
			defer c.CloseNow()
			for {
				typ, p, err := c.Read(context.Background())
				if err != nil || c.Write(context.Background(), typ, p) != nil {
					return
				}
			}
		})
	} else {
		srv := server.New(lltest.Echo, &server.Options{MaxSessions: 1 << 20, StreamBytes: 1 << 30})
		mux := http.NewServeMux()
		mux.Handle("/ll/", srv)
		h = mux
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/goroutines", func(w http.ResponseWriter, r *http.Request) {
		runtime.GC()
		fmt.Fprint(w, runtime.NumGoroutine())
	})
	mux.HandleFunc("/debug/pprof/", pprofhttp.Index)
	if trigger != nil {
		mux.Handle("/broadcast", trigger)
	}
	mux.Handle("/", h)
	fmt.Println(ln.Addr().String())
	log.Fatal(http.Serve(ln, mux))
}

// child is a server process.
type child struct {
	cmd  *exec.Cmd
	tr   string
	pid  int
	base string // the URL clients open (Lifeline's mount, or the server's root)
}

// pinCPU is the core the servers are pinned to; -1 when they are not pinned.
var pinCPU = -1

// startChild starts the server of target tr (this program with -serve, or the
// Socket.IO server under node) for mode (echo or broadcast), pinned to pinCPU.
func startChild(tr, mode string) (*child, error) {
	args := []string{os.Args[0], "-serve", tr}
	if strings.HasPrefix(tr, "sio-") {
		args = []string{"node", filepath.Join(ensureSocketIO(), "server.js"), mode}
	}
	if pinCPU >= 0 {
		args = append([]string{"taskset", "-c", strconv.Itoa(pinCPU)}, args...)
	}
	cmd := exec.Command(args[0], args[1:]...) // taskset execs the server: one pid
	cmd.Env = append(os.Environ(), "LLBENCH_MODE="+mode)
	cmd.SysProcAttr = childAttr()
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	c := &child{cmd: cmd, tr: tr, pid: cmd.Process.Pid, base: "http://" + strings.TrimSpace(line)}
	if err != nil {
		c.stop()
		return nil, fmt.Errorf("bench: %s server: %w", tr, err)
	}
	if goServer(tr) && tr != "bare" && tr != "barehttp" {
		c.base += "/ll"
	}
	return c, nil
}

// stop kills the server by its pid and reaps it.
func (c *child) stop() {
	c.cmd.Process.Kill()
	c.cmd.Wait()
}

// goServer reports whether tr's server is this program's net/http server (which
// answers /goroutines).
func goServer(tr string) bool { return tr != "tcp" && !strings.HasPrefix(tr, "sio-") }

// raiseNoFile raises the open-files limit (10,000 sessions take as many descriptors
// on each side) to the hard limit, and the hard limit too where allowed (root); the
// servers inherit it.
func raiseNoFile() {
	var r syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r) != nil {
		return
	}
	if r.Max < 1<<17 {
		up := syscall.Rlimit{Cur: 1 << 17, Max: 1 << 17}
		if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &up) == nil {
			return
		}
	}
	r.Cur = r.Max
	syscall.Setrlimit(syscall.RLIMIT_NOFILE, &r)
	if r.Cur < 12000 {
		fmt.Fprintf(os.Stderr, "bench: open files limited to %d: 10,000 sessions need about 10,500 in each process\n", r.Cur)
	}
}

// pinSelf pins this process (every thread) to all cores but the last, and sets
// pinCPU to the last for the servers, when taskset exists and there are 2 cores or
// more.
func pinSelf() {
	n := runtime.NumCPU()
	if n < 2 {
		return
	}
	if _, err := exec.LookPath("taskset"); err != nil {
		return
	}
	if exec.Command("taskset", "-a", "-p", "-c", fmt.Sprintf("0-%d", n-2), strconv.Itoa(os.Getpid())).Run() == nil {
		pinCPU = n - 1
	}
}

// cpu returns the child's user+system CPU time.
func cpu(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		log.Fatal(err)
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * (time.Second / 100) // USER_HZ is 100 on Linux
}

// rss returns the child's resident memory in bytes.
func rss(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		log.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

func goroutines(base string) int {
	res, err := http.Get(strings.TrimSuffix(base, "/ll") + "/goroutines")
	if err != nil {
		log.Fatal(err)
	}
	defer res.Body.Close()
	var n int
	fmt.Fscan(res.Body, &n)
	return n
}

var payload = strings.Repeat("m", 100)

type echoResult struct {
	n        int64
	cpu      float64 // server CPU per echo, us
	rate     float64 // echoes/s
	p50, p99 time.Duration
}

// echoRun opens sessions sessions, then each echoes window messages at a time: for
// d/5 to warm up, then for d measured. Each round trip of window messages is one
// latency sample.
func echoRun(pid int, base, tr string, sessions, window int, d time.Duration) echoResult {
	clients := make([]client, sessions)
	sem := make(chan struct{}, 64)
	var wg sync.WaitGroup
	for i := range clients {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			clients[i] = open(base, tr)
			<-sem
		}()
	}
	wg.Wait()
	var done atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	start := time.Now()
	t0, t1 := start.Add(d/5), start.Add(d/5+d)
	for _, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for {
				s := time.Now()
				if s.After(t1) {
					break
				}
				c.echo(window)
				e := time.Now()
				if s.After(t0) && e.Before(t1) {
					mine = append(mine, e.Sub(s))
					done.Add(int64(window))
				}
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	time.Sleep(time.Until(t0))
	c0 := cpu(pid)
	time.Sleep(time.Until(t1))
	used := cpu(pid) - c0
	wg.Wait()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, c := range clients {
		go c.listen(ctx, func([]byte) {}) // with ctx done: closes the connection
	}
	slices.Sort(lat)
	n := done.Load()
	return echoResult{n: n, cpu: float64(used.Microseconds()) / float64(max(n, 1)), rate: float64(n) / d.Seconds(),
		p50: pct(lat, 0.5), p99: pct(lat, 0.99)}
}

// idleRun opens sessions idle sessions (those of the broadcast measurement) and
// returns them with the server's resident memory per session once they have settled.
func idleRun(c *child, sessions int) (*fanout, float64) {
	time.Sleep(300 * time.Millisecond)
	r0 := rss(c.pid)
	f := openFanout(c.pid, c.base, c.tr, sessions)
	time.Sleep(3 * time.Second) // past the writer linger and the handshake backlog
	return f, float64(rss(c.pid)-r0) / 1024 / float64(sessions)
}
