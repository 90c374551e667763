package server_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/lifelinehq/lifeline/client"
	"github.com/lifelinehq/lifeline/server"
	"github.com/lifelinehq/lifeline/session"
)

// A handler reads and writes one session, whatever transport carries it. ShutdownWith
// makes http.Server.Shutdown end the sessions first, so neither shutdown waits out its
// deadline on a stream or a held poll.
func Example() {
	srv := server.New(server.HandlerFunc(func(ctx context.Context, s *session.Session) {
		for {
			typ, msg, err := s.Read(ctx)
			if err != nil {
				return // the session ended: err is a *session.CloseError
			}
			if err := s.Write(ctx, typ, msg); err != nil {
				return
			}
		}
	}), &server.Options{Logger: slog.New(slog.DiscardHandler)}) // nil options: the documented defaults

	r := chi.NewRouter()
	r.Mount("/lifeline", srv)
	hs := &http.Server{Handler: r, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	srv.ShutdownWith(hs)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go hs.Serve(ln)

	// A Go client on a stream, the transport that used to hold http.Server.Shutdown.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, "http://"+ln.Addr().String()+"/lifeline",
		&client.Options{Transports: []string{"stream"}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		log.Fatal(err)
	}
	defer c.CloseNow()
	if err := c.Write(ctx, session.Text, []byte("hello")); err != nil {
		log.Fatal(err)
	}
	_, p, err := c.Read(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s over %s\n", p, c.Transport())

	// Stop taking sessions, tell clients to reconnect elsewhere (4503), wait for the
	// handlers and close the hijacked WebSocket connections.
	fmt.Println("shutdown:", hs.Shutdown(ctx), srv.Shutdown(ctx))
	// Output:
	// hello over stream
	// shutdown: <nil> <nil>
}

// Middleware serves Lifeline under a prefix and passes every other request on.
func ExampleServer_Middleware() {
	srv := server.New(server.HandlerFunc(func(ctx context.Context, s *session.Session) {}), nil)
	r := chi.NewRouter()
	r.Use(srv.Middleware("/lifeline"))
	r.Get("/", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("home")) })
	// Serve r as usual: /lifeline/* goes to Lifeline, everything else to the routes.
}

// Rooms: Join puts a session in a group; Broadcast fans one payload out to the group
// without blocking on slow sessions.
func ExampleServer_Broadcast() {
	var srv *server.Server
	srv = server.New(server.HandlerFunc(func(ctx context.Context, s *session.Session) {
		srv.Join("lobby", s)
		for {
			_, msg, err := s.Read(ctx)
			if err != nil {
				return
			}
			srv.Broadcast("lobby", session.Text, msg)
		}
	}), nil)
	_ = srv
}

// Options: authenticate every session and resume, allow another origin, log, and
// read the counters.
func ExampleOptions() {
	srv := server.New(server.HandlerFunc(func(ctx context.Context, s *session.Session) {
		user := s.Identity().(string) // what Authenticate returned
		s.Write(ctx, session.Text, []byte("hello "+user))
	}), &server.Options{
		Logger:         slog.Default(),
		OriginPatterns: []string{"*.example.com"},
		Authenticate: func(r *http.Request, credentials string) (any, error) {
			if c, err := r.Cookie("user"); err == nil {
				return c.Value, nil
			}
			return nil, http.ErrNoCookie
		},
		ResumeWindow: 2 * time.Minute,
	})
	st := srv.Stats()
	log.Printf("sessions %d (websocket %d, stream %d, poll %d), resumes %d, resets %d",
		st.Sessions, st.WebSocket, st.Stream, st.Poll, st.Resumes, st.Resets)
}
