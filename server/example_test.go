package server_test

import (
	"context"
	"log"
	"log/slog"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/lifelinehq/lifeline/server"
	"github.com/lifelinehq/lifeline/session"
)

// A handler reads and writes one session, whatever transport carries it.
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
	}), nil) // nil options: the documented defaults

	r := chi.NewRouter()
	r.Mount("/lifeline", srv)
	hs := &http.Server{Addr: "127.0.0.1:8080", Handler: r, ReadHeaderTimeout: 10 * time.Second}
	go hs.ListenAndServe()

	// Later: stop taking sessions, tell clients to reconnect elsewhere (4503), wait
	// for handlers and close the hijacked WebSocket connections.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	hs.Shutdown(ctx)
	srv.Shutdown(ctx)
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

// A Store is the seam for many nodes without sticky sessions: the default keeps
// sessions in memory.
func ExampleNewMemoryStore() {
	srv := server.New(server.HandlerFunc(func(ctx context.Context, s *session.Session) {}),
		&server.Options{Store: server.NewMemoryStore()})
	_ = srv
}
