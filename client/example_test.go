package client_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net/http/httptest"
	"time"

	"github.com/lifelinehq/lifeline/client"
	"github.com/lifelinehq/lifeline/server"
	"github.com/lifelinehq/lifeline/session"
)

// An echo server, a client that says hello over it, and a graceful close.
func Example() {
	echo := server.HandlerFunc(func(ctx context.Context, s *session.Session) {
		for {
			typ, p, err := s.Read(ctx)
			if err != nil || s.Write(ctx, typ, p) != nil {
				return
			}
		}
	})
	srv := server.New(echo, &server.Options{Logger: slog.New(slog.DiscardHandler)})
	ts := httptest.NewServer(srv)
	defer ts.Close()
	defer srv.Shutdown(context.Background())

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, ts.URL, nil)
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
	c.Close(1000, "bye")
	// Output: hello over websocket
}

// Forcing a transport, credentials, and reading through a reset and a spell offline.
func ExampleDial() {
	ctx := context.Background()
	c, err := client.Dial(ctx, "https://example.com/lifeline", &client.Options{
		Transports:   []string{"stream"}, // only HTTP streaming
		OfflineAfter: 10 * time.Second,   // say so when the server stays unreachable
		Auth: func(ctx context.Context) (string, error) {
			return "a fresh token", nil // asked on creation and before every resume
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer c.CloseNow()
	for {
		_, p, err := c.Read(ctx)
		var reset *client.ResetError
		var off *client.OfflineError
		switch {
		case errors.As(err, &reset): // errors.Is(err, client.ErrReset) tells the same
			log.Printf("session lost (%d unsent), going on with %s", reset.Unsent, c.SessionID())
			continue
		case errors.As(err, &off): // errors.Is(err, client.ErrOffline) tells the same
			log.Printf("offline: %v; still trying, %d messages kept", off, off.Unsent)
			continue
		case err != nil:
			log.Printf("closed: %v; stats %+v", err, c.Stats())
			return
		}
		fmt.Printf("%s\n", p)
	}
}

// A client that answers the server's requests from the start (Options.OnRequest), and
// asks the server.
func ExampleConn_Request() {
	srv := server.New(server.HandlerFunc(func(ctx context.Context, s *session.Session) {
		s.OnRequest(func(ctx context.Context, req []byte) ([]byte, error) {
			return append([]byte("server got "), req...), nil
		})
		reply, err := s.Request(ctx, []byte("who are you?"))
		if err == nil {
			s.Write(ctx, session.Text, reply)
		}
		<-ctx.Done()
	}), &server.Options{Logger: slog.New(slog.DiscardHandler)})
	ts := httptest.NewServer(srv)
	defer ts.Close()
	defer srv.Shutdown(context.Background())

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, ts.URL, &client.Options{
		OnRequest: func(ctx context.Context, req []byte) ([]byte, error) {
			return []byte("a Go client"), nil
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer c.CloseNow()
	reply, err := c.Request(ctx, []byte(`{"op":"time"}`))
	fmt.Println(string(reply), err)
	_, p, _ := c.Read(ctx) // the server's request was answered: it sends the reply back
	fmt.Println(string(p))
	// Output:
	// server got {"op":"time"} <nil>
	// a Go client
}
