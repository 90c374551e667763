// Command chat is a small multi-room chat on Lifeline: go run ./examples/chat
//
// The page speaks the Lifeline protocol over a WebSocket with a few lines of inline
// script; the full browser client, with fallback to streaming and long-polling, is
// the client-js issue.
package main

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/lifelinehq/lifeline/server"
	"github.com/lifelinehq/lifeline/session"
)

//go:embed index.html
var page []byte

// msg is what the page sends and receives, as a JSON text message.
type msg struct {
	Type string `json:"type"` // join, say, presence
	Room string `json:"room,omitempty"`
	Name string `json:"name,omitempty"`
	Text string `json:"text,omitempty"`
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	origins := flag.String("origin", "", "other allowed origin host patterns, comma-separated")
	flag.Parse()

	srv, r := newChat(splitList(*origins))
	hs := &http.Server{Addr: *addr, Handler: r, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		stop := make(chan os.Signal, 1)
		signal.Notify(stop, os.Interrupt)
		<-stop
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		hs.Shutdown(ctx)
		srv.Shutdown(ctx)
	}()
	fmt.Printf("chat: open http://%s/\n", *addr)
	if err := hs.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
}

// newChat returns the chat's Lifeline server and its routes: the page at / and
// Lifeline at /lifeline.
func newChat(origins []string) (*server.Server, http.Handler) {
	var srv *server.Server
	srv = server.New(server.HandlerFunc(func(ctx context.Context, s *session.Session) {
		room, name := "", ""
		defer func() {
			if room != "" {
				say(srv, room, msg{Type: "presence", Room: room, Name: name, Text: "left"})
			}
		}()
		for {
			_, p, err := s.Read(ctx)
			if err != nil {
				return
			}
			var m msg
			if json.Unmarshal(p, &m) != nil {
				continue
			}
			switch m.Type {
			case "join":
				if room != "" {
					srv.Leave(room, s)
					say(srv, room, msg{Type: "presence", Room: room, Name: name, Text: "left"})
				}
				room, name = clean(m.Room, "lobby"), clean(m.Name, "anon")
				srv.Join(room, s)
				say(srv, room, msg{Type: "presence", Room: room, Name: name, Text: "joined"})
			case "say":
				if room != "" {
					say(srv, room, msg{Type: "say", Room: room, Name: name, Text: m.Text})
				}
			}
		}
	}), &server.Options{OriginPatterns: origins})
	r := chi.NewRouter()
	r.Mount("/lifeline", srv)
	r.Get("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(page)
	})
	return srv, r
}

func say(srv *server.Server, room string, m msg) {
	b, _ := json.Marshal(m)
	srv.Broadcast(room, session.Text, b)
}

func clean(s, def string) string {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 40 {
		return def
	}
	return s
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
