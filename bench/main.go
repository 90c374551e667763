// Command bench measures a Lifeline server the way docs/protocol.md's peers are
// compared: the server runs as a child process; this process drives it over loopback
// and reads the child's CPU time and resident memory from /proc.
//
//	go run . -mode echo -transport websocket -sessions 1000 -messages 200000
//	go run . -mode idle -transport poll -sessions 10000
//	go run . -mode soak -sessions 1000 -duration 10m
//	go run . -mode broadcast -transport websocket -sessions 10000 -count 20 -rate 10
//
// Transports: websocket, stream, poll, and the baselines bare (a bare coder/websocket
// echo server) and barehttp (net/http answering each POST with its body: one request
// per echo, where a long-poll echo takes two). echo reports server CPU per echoed 100-byte message; idle reports
// resident memory and goroutines per idle session; broadcast (websocket and bare)
// reports the delivery delay's p50 and p99 of 100-byte broadcasts to every session;
// soak (soak.go) runs -sessions Go clients on each of -transports for -duration, and prints each server's resident
// memory and goroutines every -sample.
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
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/lifelinehq/lifeline/internal/lltest"
	"github.com/lifelinehq/lifeline/server"
)

func main() {
	serve := flag.String("serve", "", "internal: run the server for this transport")
	mode := flag.String("mode", "echo", "echo, idle or soak")
	tr := flag.String("transport", "websocket", "websocket, stream, poll or bare")
	sessions := flag.Int("sessions", 1000, "concurrent sessions")
	messages := flag.Int("messages", 100000, "echoes in all (echo mode)")
	window := flag.Int("window", 1, "messages in flight per session (echo mode)")
	duration := flag.Duration("duration", 10*time.Minute, "how long to run (soak mode)")
	interval := flag.Duration("interval", time.Second, "time between a session's messages (soak mode)")
	sample := flag.Duration("sample", 10*time.Second, "time between samples (soak mode)")
	soakTransports := flag.String("transports", "websocket,stream,poll", "transports, each on a server of its own (soak mode)")
	count := flag.Int("count", 20, "broadcasts (broadcast mode)")
	rate := flag.Float64("rate", 10, "broadcasts per second (broadcast mode)")
	flag.Parse()
	if *serve != "" {
		runServer(*serve)
		return
	}
	if *mode == "soak" {
		if !soak(strings.Split(*soakTransports, ","), *sessions, *duration, *interval, *sample) {
			os.Exit(1)
		}
		return
	}
	os.Setenv("LLBENCH_MODE", *mode) // the child serves what the mode needs
	child, addr, err := startChild(*tr)
	if err != nil {
		log.Fatal(err)
	}
	defer child.Process.Kill()
	base := "http://" + addr + "/ll"
	if *tr == "bare" || *tr == "barehttp" {
		base = "http://" + addr
	}
	http.DefaultTransport.(*http.Transport).MaxIdleConnsPerHost = *sessions + 10
	switch *mode {
	case "echo":
		echo(child.Process.Pid, base, *tr, *sessions, *messages, *window)
	case "idle":
		idle(child.Process.Pid, base, *tr, *sessions)
	case "broadcast":
		broadcast(child.Process.Pid, base, *tr, *sessions, *count, *rate)
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

func startChild(tr string) (*exec.Cmd, string, error) {
	cmd := exec.Command(os.Args[0], "-serve", tr)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, "", err
	}
	if err := cmd.Start(); err != nil {
		return nil, "", err
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	return cmd, strings.TrimSpace(line), err
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

func echo(pid int, base, tr string, sessions, messages, window int) {
	per := messages / sessions / window
	clients := make([]client, sessions)
	for i := range clients {
		clients[i] = open(base, tr)
	}
	var done atomic.Int64
	var wg sync.WaitGroup
	c0, t0 := cpu(pid), time.Now()
	for _, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range per {
				c.echo(window)
				done.Add(int64(window))
			}
		}()
	}
	wg.Wait()
	d, el := cpu(pid)-c0, time.Since(t0)
	n := done.Load()
	fmt.Printf("echo %-9s sessions %5d  window %3d  echoes %7d  server CPU %6.2f us/echo  %7.0f echoes/s\n",
		tr, sessions, window, n, float64(d.Microseconds())/float64(n), float64(n)/el.Seconds())
}

func idle(pid int, base, tr string, sessions int) {
	time.Sleep(300 * time.Millisecond)
	g0, r0 := goroutines(base), rss(pid)
	clients := make([]client, sessions)
	for i := range clients {
		clients[i] = open(base, tr)
	}
	time.Sleep(3 * time.Second) // past the writer linger and the handshake backlog
	g1, r1 := goroutines(base), rss(pid)
	if p := os.Getenv("LLBENCH_PROFILE"); p != "" {
		res, err := http.Get(strings.TrimSuffix(base, "/ll") + "/debug/pprof/" + os.Getenv("LLBENCH_PROFILE_KIND"))
		if err == nil {
			f, _ := os.Create(p)
			io.Copy(f, res.Body)
			f.Close()
			res.Body.Close()
		}
	}
	fmt.Printf("idle %-9s sessions %5d  server RSS %6.2f KiB/session  goroutines %.2f/session\n",
		tr, sessions, float64(r1-r0)/1024/float64(sessions), float64(g1-g0)/float64(sessions))
	runtime.KeepAlive(clients)
}
