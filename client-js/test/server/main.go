// Command server is the Lifeline server that the client-js tests run against: the
// echo handler (with requests, see handler) mounted at /lifeline, reachable directly
// and through a fault proxy
// (integration/faultproxy) that the test steers with commands on stdin, one per line:
//
//	ws pass|refuse|hang|silent   what the proxy does with WebSocket handshakes
//	stream pass|buffer           what it does with stream responses
//	cut SEED MINMS MAXMS         cut each new connection after a random lifetime (0 0: off)
//	cutall                       cut every open connection now
//	down | up                    close every new connection at once, or forward again
//	stats                        print the server's Stats and the proxy's cuts as JSON
//
// Each command is answered with one line ("ok", or JSON for stats). It first prints
// one JSON line with the two mount URLs, and exits when stdin closes or after -max.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/lifelinehq/lifeline/integration/faultproxy"
	"github.com/lifelinehq/lifeline/server"
	"github.com/lifelinehq/lifeline/session"
)

func main() {
	resume := flag.Duration("resume", 0, "resume window (0: the default)")
	hb := flag.Duration("hb", 0, "heartbeat interval (0: the default)")
	hbt := flag.Duration("hbt", 0, "heartbeat timeout (0: the default)")
	max := flag.Duration("max", 5*time.Minute, "exit after this long")
	flag.Parse()

	srv := server.New(handler, &server.Options{ResumeWindow: *resume, Heartbeat: *hb, HeartbeatTimeout: *hbt})
	r := chi.NewRouter()
	r.Mount("/lifeline", srv)

	// The proxy reads only the first request of each connection, so the server behind
	// it closes every HTTP connection after one response (Connection: close): clients
	// cannot reuse one, and the proxy sees every request.
	direct, hs1 := serve(r)
	behind, hs2 := serve(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("Connection", "close")
		r.ServeHTTP(w, req)
	}))
	p, err := faultproxy.New(behind.Addr().String())
	if err != nil {
		log.Fatal(err)
	}
	p.Logf = log.Printf
	out, _ := json.Marshal(map[string]string{
		"direct": "http://" + direct.Addr().String() + "/lifeline",
		"proxy":  "http://" + p.Addr() + "/lifeline",
	})
	fmt.Println(string(out))

	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	deadline := time.After(*max)
loop:
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				break loop
			}
			fmt.Println(command(p, srv, strings.Fields(line)))
		case <-deadline:
			log.Print("server: -max reached")
			break loop
		}
	}
	// Shut down gracefully: every transport is told 4503, and the HTTP responses
	// carrying it complete before the process exits.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	srv.Shutdown(ctx)
	hs1.Shutdown(ctx)
	hs2.Shutdown(ctx)
	p.Close()
}

var policies = map[string]faultproxy.Policy{
	"pass": faultproxy.Pass, "refuse": faultproxy.Refuse, "hang": faultproxy.Hang,
	"silent": faultproxy.Silent, "buffer": faultproxy.Buffer,
}

// command carries out one command and returns its answer.
func command(p *faultproxy.Proxy, srv *server.Server, f []string) string {
	arg := func(i int) string {
		if i < len(f) {
			return f[i]
		}
		return ""
	}
	ms := func(i int) time.Duration {
		n, _ := strconv.Atoi(arg(i))
		return time.Duration(n) * time.Millisecond
	}
	switch arg(0) {
	case "ws", "stream":
		pol, ok := policies[arg(1)]
		if !ok {
			return "error: unknown policy " + arg(1)
		}
		if arg(0) == "ws" {
			p.SetWebSocket(pol)
		} else {
			p.SetStream(pol)
		}
	case "cut":
		seed, _ := strconv.ParseInt(arg(1), 10, 64)
		p.CutAfter(seed, ms(2), ms(3))
	case "cutall":
		p.CutAll()
	case "down":
		p.SetDown(true)
	case "up":
		p.SetDown(false)
	case "stats":
		b, _ := json.Marshal(struct {
			server.Stats
			Cuts int64
		}{srv.Stats(), p.Cuts()})
		return string(b)
	default:
		return "error: unknown command " + strings.Join(f, " ")
	}
	return "ok"
}

// serve serves h on a free 127.0.0.1 port.
func serve(h http.Handler) (net.Listener, *http.Server) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(ln)
	return ln, hs
}

// handler writes every message back, like lltest.Echo, and answers requests: "re:" and
// the request, or the error "refused: <request>" for one starting with "fail". A request
// answered twice on one session (the same text) makes it write "dup <request>". The
// message "ask N [MS]" is not echoed: the handler asks the client N requests ("s1" to
// "sN", 8 at a time, starting one every MS milliseconds), each to be answered
// "re:s<i>", and then writes "asked N: ok" or the first thing that went wrong.
var handler = server.HandlerFunc(func(ctx context.Context, s *session.Session) {
	var mu sync.Mutex
	seen := map[string]bool{}
	s.OnRequest(func(ctx context.Context, req []byte) ([]byte, error) {
		mu.Lock()
		dup := seen[string(req)]
		seen[string(req)] = true
		mu.Unlock()
		if dup {
			s.Write(ctx, session.Text, []byte("dup "+string(req)))
		}
		if strings.HasPrefix(string(req), "fail") {
			return nil, errors.New("refused: " + string(req))
		}
		return append([]byte("re:"), req...), nil
	})
	for {
		typ, p, err := s.Read(ctx)
		if err != nil {
			return
		}
		if args, ok := strings.CutPrefix(string(p), "ask "); ok && typ == session.Text {
			go ask(ctx, s, args)
		} else if s.Write(ctx, typ, p) != nil {
			return
		}
	}
})

// ask asks the client the requests of args ("N [MS]"), and writes the outcome.
func ask(ctx context.Context, s *session.Session, args string) {
	n, pace, _ := strings.Cut(args, " ")
	count, _ := strconv.Atoi(n)
	ms, _ := strconv.Atoi(pace)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	slots := make(chan struct{}, 8)
	for i := 1; i <= count; i++ {
		time.Sleep(time.Duration(ms) * time.Millisecond)
		slots <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-slots; wg.Done() }()
			req := fmt.Sprintf("s%d", i)
			rctx, cancel := context.WithTimeout(ctx, time.Minute)
			defer cancel()
			reply, err := s.Request(rctx, []byte(req))
			if err == nil && string(reply) != "re:"+req {
				err = fmt.Errorf("reply %q to %s", reply, req)
			}
			if err != nil {
				mu.Lock()
				if first == nil {
					first = fmt.Errorf("%s: %w", req, err)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	outcome := "ok"
	if first != nil {
		outcome = first.Error()
	}
	s.Write(ctx, session.Text, []byte("asked "+n+": "+outcome))
}
