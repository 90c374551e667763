package main

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/lifelinehq/lifeline/client"
	"github.com/lifelinehq/lifeline/internal/leakcheck"
	"github.com/lifelinehq/lifeline/session"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// TestChat: two people on different transports join a room and talk; a third in
// another room hears nothing of it; presence is announced.
func TestChat(t *testing.T) {
	srv, routes := newChat(nil)
	ts := httptest.NewServer(routes)
	defer ts.Close()
	defer srv.Shutdown(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	join := func(name, room, tr string) *client.Conn {
		c, err := client.Dial(ctx, ts.URL+"/lifeline", &client.Options{Transports: []string{tr}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.CloseNow() })
		send(t, c, msg{Type: "join", Room: room, Name: name})
		return c
	}
	ann := join("ann", "kitchen", "websocket")
	expect(t, ann, msg{Type: "presence", Room: "kitchen", Name: "ann", Text: "joined"})
	bob := join("bob", "kitchen", "poll")
	expect(t, bob, msg{Type: "presence", Room: "kitchen", Name: "bob", Text: "joined"})
	expect(t, ann, msg{Type: "presence", Room: "kitchen", Name: "bob", Text: "joined"})
	eve := join("eve", "garden", "stream")
	expect(t, eve, msg{Type: "presence", Room: "garden", Name: "eve", Text: "joined"})

	send(t, bob, msg{Type: "say", Text: "hi ann"})
	expect(t, ann, msg{Type: "say", Room: "kitchen", Name: "bob", Text: "hi ann"})
	expect(t, bob, msg{Type: "say", Room: "kitchen", Name: "bob", Text: "hi ann"})
	send(t, eve, msg{Type: "say", Text: "anyone?"})
	expect(t, eve, msg{Type: "say", Room: "garden", Name: "eve", Text: "anyone?"})

	bob.Close(1000, "bye")
	expect(t, ann, msg{Type: "presence", Room: "kitchen", Name: "bob", Text: "left"})
	// eve heard only her own room: her next message is her own.
	send(t, eve, msg{Type: "say", Text: "still here"})
	expect(t, eve, msg{Type: "say", Room: "garden", Name: "eve", Text: "still here"})

	res, err := ts.Client().Get(ts.URL + "/")
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("page: %v %v", res, err)
	}
	res.Body.Close()
}

func send(t *testing.T, c *client.Conn, m msg) {
	t.Helper()
	b, _ := json.Marshal(m)
	if err := c.Write(context.Background(), session.Text, b); err != nil {
		t.Fatal(err)
	}
}

func expect(t *testing.T, c *client.Conn, want msg) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, p, err := c.Read(ctx)
	if err != nil {
		t.Fatalf("%s waiting for %+v: %v", c.Transport(), want, err)
	}
	var got msg
	if err := json.Unmarshal(p, &got); err != nil || got != want {
		t.Fatalf("got %s, want %+v", strings.TrimSpace(string(p)), want)
	}
}
