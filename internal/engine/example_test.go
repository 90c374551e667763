package engine_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/lifelinehq/lifeline/internal/engine"
	"github.com/lifelinehq/lifeline/session"
)

// A handler's view: Read until the session ends, then learn how it ended.
func ExampleSession_Read() {
	s := engine.New("id", "token", engine.Config{})
	s.Deliver(context.Background(), 1, engine.Message{Type: session.Text, Data: []byte("hi")}, false)
	s.PeerClosed(1000, "bye")
	for {
		typ, p, err := s.Read(context.Background())
		var ce *session.CloseError
		if errors.As(err, &ce) {
			fmt.Println("ended:", ce.Code, ce.Reason, "remote:", ce.Remote, errors.Is(err, session.ErrClosed))
			return
		}
		fmt.Println(typ == session.Text, string(p))
	}
	// Output:
	// true hi
	// ended: 1000 (normal) bye remote: true true
}

// A transport's view: attach a connection, pull what to send, and resume on another
// connection from what the peer holds.
func ExampleLink_Pull() {
	s := engine.New("id", "token", engine.Config{})
	ctx := context.Background()
	for _, m := range []string{"a", "b", "c"} {
		s.Write(ctx, session.Text, []byte(m))
	}
	l, _, _ := s.Attach("websocket", 1, 0, true)
	var b engine.Batch
	l.Pull(&b, 64, 1<<20, false)
	fmt.Println("first connection sends from", b.Seq, "count", len(b.Msgs))

	// The connection drops after the peer got "a"; it resumes on a poll, acking 1.
	l2, _, _ := s.Attach("poll", 2, 1, false)
	l2.Pull(&b, 64, 1<<20, false)
	fmt.Println("resumed connection sends from", b.Seq, "count", len(b.Msgs))
	l.Pull(&b, 64, 1<<20, false)
	fmt.Println("old connection:", b.Gone)
	// Output:
	// first connection sends from 1 count 3
	// resumed connection sends from 2 count 2
	// old connection: lifeline: connection superseded by a newer one
}
