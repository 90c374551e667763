// Command echo sends every message back on its session: go run ./examples/echo
//
// It mounts Lifeline at /lifeline and serves at / a page that loads the served
// browser client (/lifeline/lifeline.min.js) and echoes what you type. The
// integration lab (integration/) runs it behind real proxies. With -nats URL -node
// NAME it joins a cluster (package cluster, docs/cluster.md): run several behind any
// load balancer, with no sticky sessions.
package main

import (
	"context"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/nats-io/nats.go"

	"github.com/lifelinehq/lifeline/cluster"
	"github.com/lifelinehq/lifeline/server"
	"github.com/lifelinehq/lifeline/session"
)

//go:embed index.html
var page []byte

func main() {
	addr, origins, err := parseFlags(os.Args[1:])
	if err != nil {
		os.Exit(2) // the flag package has printed the error and the usage
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		log.Fatal(err)
	}
	opts := &server.Options{OriginPatterns: origins}
	if natsURL != "" {
		nc, err := nats.Connect(natsURL, nats.Name("lifeline-echo-"+node), nats.MaxReconnects(-1))
		if err != nil {
			log.Fatalf("nats: %v", err)
		}
		defer nc.Close()
		cl, err := cluster.New(nc, cluster.Options{Node: node})
		if err != nil {
			log.Fatal(err)
		}
		defer cl.Close() // after the Server's shutdown
		opts.Router = cl
	}
	srv := server.New(server.HandlerFunc(echo), opts)
	hs := httpServer(routes(srv))
	done := make(chan struct{})
	go func() {
		defer close(done)
		stop := make(chan os.Signal, 1)
		signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
		<-stop
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx) // first: sessions get 4503 while their connections are still up
		hs.Shutdown(ctx)
	}()
	fmt.Printf("echo: open http://%s/\n", ln.Addr())
	if err := hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
	<-done
}

// natsURL and node are -nats and -node: join a cluster.
var natsURL, node string

// parseFlags reads -addr and -origin (repeatable, and comma-separated), and -nats and
// -node (into natsURL and node).
func parseFlags(args []string) (addr string, origins []string, err error) {
	fs := flag.NewFlagSet("echo", flag.ContinueOnError)
	fs.StringVar(&natsURL, "nats", "", "join a cluster over the NATS server at `URL`")
	fs.StringVar(&node, "node", "", "this node's `name` in the cluster (A-Z a-z 0-9 _ -); needs -nats")
	fs.StringVar(&addr, "addr", "127.0.0.1:8080", "listen address (port 0: any free port)")
	fs.Func("origin", "other allowed origin host patterns (repeatable, comma-separated)", func(s string) error {
		origins = append(origins, splitList(s)...)
		return nil
	})
	if err = fs.Parse(args); err == nil && (natsURL == "") != (node == "") {
		err = errors.New("echo: -nats and -node go together")
		fmt.Fprintln(fs.Output(), err)
	}
	return addr, origins, err
}

// echo is the session handler: every message goes back as it came, text or binary.
func echo(ctx context.Context, s *session.Session) {
	for {
		typ, p, err := s.Read(ctx)
		if err != nil {
			return
		}
		if err := s.Write(ctx, typ, p); err != nil {
			return
		}
	}
}

// routes mounts Lifeline at /lifeline and the page at /.
func routes(srv *server.Server) http.Handler {
	r := chi.NewRouter()
	r.Mount("/lifeline", srv)
	r.Get("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(page)
	})
	return r
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// httpServer is the http.Server for Lifeline (docs/security.md): ReadHeaderTimeout
// bounds a slow request head, IdleTimeout closes idle keep-alive connections. No
// ReadTimeout or WriteTimeout: they bound a whole request or response, and would cut
// held polls and streams; Lifeline sets its own write deadlines and heartbeats.
func httpServer(h http.Handler) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second}
}
