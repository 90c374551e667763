package session_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net/http/httptest"
	"time"

	"github.com/lifelinehq/lifeline/client"
	"github.com/lifelinehq/lifeline/closecode"
	"github.com/lifelinehq/lifeline/server"
	"github.com/lifelinehq/lifeline/session"
)

// run serves h, dials it with the Go client, runs talk, and waits for the session to
// end on the server.
func run(h server.HandlerFunc, talk func(ctx context.Context, c *client.Conn)) {
	ended := make(chan struct{})
	srv := server.New(server.HandlerFunc(func(ctx context.Context, s *session.Session) {
		defer close(ended)
		h(ctx, s)
	}), &server.Options{Logger: slog.New(slog.DiscardHandler)})
	ts := httptest.NewServer(srv)
	defer ts.Close()
	defer srv.Shutdown(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, ts.URL, &client.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		log.Fatal(err)
	}
	defer c.CloseNow()
	talk(ctx, c)
	<-ended
}

// A handler reads until the session ends, answering each message, and learns how the
// session ended from the *CloseError.
func ExampleSession_Read() {
	run(func(ctx context.Context, s *session.Session) {
		for {
			typ, p, err := s.Read(ctx)
			var ce *session.CloseError
			if errors.As(err, &ce) {
				fmt.Println("ended:", ce.Code, ce.Reason, "by peer:", ce.Remote, errors.Is(err, session.ErrClosed))
				return
			}
			fmt.Println("got", typ, string(p))
			if err := s.Write(ctx, typ, append([]byte("echo: "), p...)); err != nil {
				return
			}
		}
	}, func(ctx context.Context, c *client.Conn) {
		c.Write(ctx, session.Text, []byte("hello"))
		_, p, _ := c.Read(ctx)
		fmt.Println("client got", string(p))
		c.Close(closecode.Normal, "bye")
	})
	// Output:
	// got text hello
	// client got echo: hello
	// ended: 1000 (normal) bye by peer: true true
}

// A handler closes the session with the application's own code; the client learns
// the code and reason. ID and Identity name the session; Done and Err tell its end.
func ExampleSession_Close() {
	var end error
	run(func(ctx context.Context, s *session.Session) {
		fmt.Println(s.ID() != "", s.Identity(), s.Err())
		s.Write(ctx, session.Text, []byte("you are done"))
		s.Close(4001, "kicked")
		<-s.Done()
		end = s.Err()
	}, func(ctx context.Context, c *client.Conn) {
		_, p, _ := c.Read(ctx)
		fmt.Println("client got", string(p))
		_, _, err := c.Read(ctx)
		var ce *session.CloseError
		if errors.As(err, &ce) {
			fmt.Println("client:", ce.Code, ce.Code.Action(), ce.Reason)
		}
	})
	fmt.Println("server:", end)
	// Output:
	// true <nil> <nil>
	// client got you are done
	// client: 4001 stop kicked
	// server: lifeline: session closed locally with code 4001: kicked
}

// TryWrite never blocks: a handler that must not wait for a slow client (a chat
// room's fan-out, say) drops or closes it instead. CloseNow ends the session at once.
func ExampleSession_TryWrite() {
	run(func(ctx context.Context, s *session.Session) {
		kib := make([]byte, 1024)
		for i := 0; ; i++ {
			if err := s.TryWrite(session.Binary, kib); errors.Is(err, session.ErrQueueFull) {
				fmt.Println("queue full after a MiB or more:", i*len(kib) >= 1<<20)
				s.CloseNow(closecode.Overflow, "too slow")
				return
			}
		}
	}, func(ctx context.Context, c *client.Conn) {})
	// Output: queue full after a MiB or more: true
}

// A handler answers the client's requests, and asks the client in turn (this client
// has no answerer: its Options.OnRequest is not set).
func ExampleSession_Request() {
	run(func(ctx context.Context, s *session.Session) {
		s.OnRequest(func(ctx context.Context, req []byte) ([]byte, error) {
			if len(req) == 0 {
				return nil, errors.New("empty request")
			}
			return append([]byte("you said "), req...), nil
		})
		if _, _, err := s.Read(ctx); err != nil { // "ask me"
			return
		}
		_, err := s.Request(ctx, []byte(`{"op":"version"}`))
		var re *session.RequestError
		if errors.As(err, &re) {
			s.Write(ctx, session.Text, []byte("the client answered: "+re.Message))
		}
		for {
			if _, _, err := s.Read(ctx); err != nil {
				return
			}
		}
	}, func(ctx context.Context, c *client.Conn) {
		reply, err := c.Request(ctx, []byte("hello"))
		fmt.Println(string(reply), err)
		_, err = c.Request(ctx, nil)
		fmt.Println(err)
		c.Write(ctx, session.Text, []byte("ask me"))
		_, p, _ := c.Read(ctx)
		fmt.Println(string(p))
		c.Close(closecode.Normal, "")
	})
	// Output:
	// you said hello <nil>
	// lifeline: request failed: empty request
	// the client answered: no request handler
}
