package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lifelinehq/lifeline/client"
	"github.com/lifelinehq/lifeline/internal/leakcheck"
	"github.com/lifelinehq/lifeline/session"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// TestChat: two people on different transports talk in a room; a third, in another
// room, hears nothing of it.
func TestChat(t *testing.T) {
	_, url := start(t)
	ann := dial(t, url, "ann", "websocket")
	ann.join("kitchen")
	bob := dial(t, url, "bob", "poll")
	bob.join("kitchen")
	ann.expect(msg{Type: "presence", Room: "kitchen", Name: "bob", Text: "joined", Members: []string{"ann", "bob"}})
	eve := dial(t, url, "eve", "stream")
	eve.join("garden")

	bob.say("hi ann")
	ann.expect(msg{Type: "say", Room: "kitchen", Name: "bob", Text: "hi ann"})
	bob.expect(msg{Type: "say", Room: "kitchen", Name: "bob", Text: "hi ann"})
	ann.say("hi bob, it's 🍵 time")
	bob.expect(msg{Type: "say", Room: "kitchen", Name: "ann", Text: "hi bob, it's 🍵 time"})
	ann.expect(msg{Type: "say", Room: "kitchen", Name: "ann", Text: "hi bob, it's 🍵 time"})

	// eve's next message (room lists aside) is her own: she heard nothing of the kitchen.
	eve.say("anyone?")
	eve.expect(msg{Type: "say", Room: "garden", Name: "eve", Text: "anyone?"})
	ann.say("bye")
	ann.expect(msg{Type: "say", Room: "kitchen", Name: "ann", Text: "bye"})
	bob.expect(msg{Type: "say", Room: "kitchen", Name: "ann", Text: "bye"})
	eve.say("hello?")
	eve.expect(msg{Type: "say", Room: "garden", Name: "eve", Text: "hello?"})
}

// TestJoinRequest: joining as a request (what the page does) is answered with the
// "joined" message, members and history included; a bad join fails with the reason
// and leaves the person where they were; what is said after the join follows it.
func TestJoinRequest(t *testing.T) {
	_, url := start(t)
	ann := dial(t, url, "ann", "websocket")
	ann.join("kitchen")
	ann.say("before")
	ann.until("say")
	bob := dial(t, url, "bob", "poll")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	b, err := bob.c.Request(ctx, encode(msg{Type: "join", Room: "kitchen", Name: "bob"}))
	if err != nil {
		t.Fatal(err)
	}
	var got msg
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got.Type != "joined" || got.Room != "kitchen" || got.Name != "bob" || !slices.Equal(got.Members, []string{"ann", "bob"}) ||
		len(got.History) != 1 || got.History[0].Text != "before" {
		t.Fatalf("join request answered %+v", got)
	}
	ann.say("after")
	ann.until("say")
	if m := bob.until("say"); m.Text != "after" {
		t.Fatalf("bob heard %+v, want the message said after the join", m)
	}
	_, err = bob.c.Request(ctx, encode(msg{Type: "join", Room: "bad\nroom", Name: "bob"}))
	var re *session.RequestError
	if !errors.As(err, &re) || !strings.HasPrefix(re.Message, "bad room name") {
		t.Fatalf("a bad join request: %v, want a RequestError saying bad room name", err)
	}
	_, err = bob.c.Request(ctx, []byte(`{"type":"say","text":"hi"}`))
	if !errors.As(err, &re) || !strings.Contains(re.Message, "join") {
		t.Fatalf("a say as a request: %v", err)
	}
	bob.say("still here")
	if m := ann.until("say"); m.Text != "still here" || m.Name != "bob" {
		t.Fatalf("ann heard %+v", m)
	}
}

// TestPresence: joins, leaves and moves are told to the room with its members.
func TestPresence(t *testing.T) {
	_, url := start(t)
	ann := dial(t, url, "ann", "websocket")
	if got := ann.join("kitchen"); !slices.Equal(got.Members, []string{"ann"}) {
		t.Fatalf("ann joined with members %q", got.Members)
	}
	bob := dial(t, url, "bob", "stream")
	if got := bob.join("kitchen"); !slices.Equal(got.Members, []string{"ann", "bob"}) {
		t.Fatalf("bob joined with members %q", got.Members)
	}
	ann.expect(msg{Type: "presence", Room: "kitchen", Name: "bob", Text: "joined", Members: []string{"ann", "bob"}})
	cy := dial(t, url, "cy", "poll")
	cy.join("kitchen")
	ann.expect(msg{Type: "presence", Room: "kitchen", Name: "cy", Text: "joined", Members: []string{"ann", "bob", "cy"}})
	bob.expect(msg{Type: "presence", Room: "kitchen", Name: "cy", Text: "joined", Members: []string{"ann", "bob", "cy"}})

	// Joining another room leaves this one.
	if got := bob.join("garden"); !slices.Equal(got.Members, []string{"bob"}) {
		t.Fatalf("bob joined the garden with members %q", got.Members)
	}
	ann.expect(msg{Type: "presence", Room: "kitchen", Name: "bob", Text: "left", Members: []string{"ann", "cy"}})
	cy.expect(msg{Type: "presence", Room: "kitchen", Name: "bob", Text: "left", Members: []string{"ann", "cy"}})

	// Closing the session leaves too.
	if err := cy.c.Close(1000, "bye"); err != nil {
		t.Fatal(err)
	}
	ann.expect(msg{Type: "presence", Room: "kitchen", Name: "cy", Text: "left", Members: []string{"ann"}})
	// bob, in the garden, heard none of it.
	bob.say("quiet here")
	bob.expect(msg{Type: "say", Room: "garden", Name: "bob", Text: "quiet here"})
}

// TestHistory: a newcomer gets the room's last 50 messages, oldest first; a room
// keeps them when everyone has left.
func TestHistory(t *testing.T) {
	_, url := start(t)
	ann := dial(t, url, "ann", "websocket")
	if got := ann.join("kitchen"); got.History == nil || len(got.History) != 0 {
		t.Fatalf("history of a new room: %+v", got.History)
	}
	for i := range 60 {
		ann.say(fmt.Sprint("message ", i))
	}
	for i := range 60 {
		ann.expect(msg{Type: "say", Room: "kitchen", Name: "ann", Text: fmt.Sprint("message ", i)})
	}
	check := func(got []msg) {
		t.Helper()
		if len(got) != maxHistory {
			t.Fatalf("history of %d messages, want %d", len(got), maxHistory)
		}
		for i, m := range got {
			want := msg{Type: "say", Room: "kitchen", Name: "ann", Text: fmt.Sprint("message ", i+10)}
			if !reflect.DeepEqual(m, want) {
				t.Fatalf("history[%d] = %+v, want %+v", i, m, want)
			}
		}
	}
	bob := dial(t, url, "bob", "poll")
	check(bob.join("kitchen").History)

	// Everyone leaves; the room and its history stay.
	ann.join("lobby")
	bob.join("lobby")
	cy := dial(t, url, "cy", "stream")
	got := cy.join("kitchen")
	check(got.History)
	if !slices.Equal(got.Members, []string{"cy"}) {
		t.Fatalf("members %q", got.Members)
	}
}

// TestBigHistory: a room's history at its largest (50 messages of 2000 bytes that
// JSON escapes six-fold) fits in a "joined" reply on every transport.
func TestBigHistory(t *testing.T) {
	_, url := start(t)
	ann := dial(t, url, "ann", "websocket")
	ann.join("kitchen")
	text := strings.Repeat("<", maxText)
	for range maxHistory {
		ann.say(text)
		ann.expect(msg{Type: "say", Room: "kitchen", Name: "ann", Text: text})
	}
	for _, tr := range []string{"websocket", "stream", "poll"} {
		p := dial(t, url, tr, tr)
		if got := p.join("kitchen"); len(got.History) != maxHistory || got.History[maxHistory-1].Text != text {
			t.Fatalf("%s: history of %d messages", tr, len(got.History))
		}
	}
}

// TestNames: names are unique within a room, trimmed, and default to guest; rooms
// default to lobby.
func TestNames(t *testing.T) {
	_, url := start(t)
	long := strings.Repeat("é", maxName)
	joins := []struct{ room, name, wantRoom, wantName string }{
		{"kitchen", "ann", "kitchen", "ann"},
		{"kitchen", "  ann ", "kitchen", "ann (2)"},
		{" kitchen\t", "ann", "kitchen", "ann (3)"},
		{"garden", "ann", "garden", "ann"}, // another room
		{"kitchen", long, "kitchen", long},
		{"kitchen", long, "kitchen", strings.Repeat("é", maxName-4) + " (2)"},
		{"", "", "lobby", "guest"},
		{"lobby", " ", "lobby", "guest (2)"},
	}
	var people []*person
	for _, j := range joins {
		p := dial(t, url, j.name, "websocket")
		p.send(msg{Type: "join", Room: j.room, Name: j.name})
		got := p.until("joined")
		if got.Room != j.wantRoom || got.Name != j.wantName {
			t.Errorf("join %q as %q: got room %q name %q, want %q %q", j.room, j.name, got.Room, got.Name, j.wantRoom, j.wantName)
		}
		people = append(people, p)
	}
	// A name given up is free again.
	people[1].join("garden")
	if got := dial(t, url, "ann", "websocket").join("kitchen"); got.Name != "ann (2)" {
		t.Errorf("ann in the kitchen again: got %q, want ann (2)", got.Name)
	}
}

// TestRoomList: everyone's room list follows the rooms' member counts, the busiest
// first; an empty room with nothing said is forgotten.
func TestRoomList(t *testing.T) {
	_, url := start(t)
	ann := dial(t, url, "ann", "websocket")
	if got := ann.join("kitchen"); !reflect.DeepEqual(got.Rooms, []roomInfo{{"kitchen", 1}}) {
		t.Fatalf("ann's first room list: %+v", got.Rooms)
	}
	ann.rooms(roomInfo{"kitchen", 1})
	bob := dial(t, url, "bob", "stream")
	bob.join("attic")
	ann.rooms(roomInfo{"attic", 1}, roomInfo{"kitchen", 1})
	bob.rooms(roomInfo{"attic", 1}, roomInfo{"kitchen", 1})
	cy := dial(t, url, "cy", "poll")
	cy.join("kitchen")
	ann.rooms(roomInfo{"kitchen", 2}, roomInfo{"attic", 1})
	bob.rooms(roomInfo{"kitchen", 2}, roomInfo{"attic", 1})
	cy.rooms(roomInfo{"kitchen", 2}, roomInfo{"attic", 1})

	// bob leaves the attic, where nothing was said: it is forgotten.
	bob.join("kitchen")
	for _, p := range []*person{ann, bob, cy} {
		p.rooms(roomInfo{"kitchen", 3})
	}
	// The kitchen, where something was said, is remembered with no one in it.
	ann.say("lights off")
	if err := ann.c.Close(1000, ""); err != nil {
		t.Fatal(err)
	}
	bob.rooms(roomInfo{"kitchen", 2})
	bob.join("porch")
	bob.rooms(roomInfo{"kitchen", 1}, roomInfo{"porch", 1})
	if err := cy.c.Close(1000, ""); err != nil {
		t.Fatal(err)
	}
	bob.rooms(roomInfo{"porch", 1}, roomInfo{"kitchen", 0})
}

// TestLimits: a full room and a full chat refuse a join, and the person stays where
// they were.
func TestLimits(t *testing.T) {
	c, url := start(t)
	ann := dial(t, url, "ann", "websocket")
	ann.join("kitchen")

	c.mu.Lock()
	crowd := &room{members: make(map[*session.Session]string)}
	for i := range maxMembers {
		crowd.members[&session.Session{}] = fmt.Sprint("p", i) // distinct keys, never used
	}
	c.rooms["stadium"] = crowd
	c.mu.Unlock()
	ann.send(msg{Type: "join", Room: "stadium"})
	ann.fails("is full")

	c.mu.Lock()
	for i := len(c.rooms); i < maxRooms; i++ {
		c.rooms[fmt.Sprint("room ", i)] = &room{history: []msg{{Type: "say"}}}
	}
	c.mu.Unlock()
	ann.send(msg{Type: "join", Room: "one more"})
	ann.fails("too many rooms")
	ann.say("still in the kitchen")
	ann.expect(msg{Type: "say", Room: "kitchen", Name: "ann", Text: "still in the kitchen"})
}

// TestBadInput: every bad message gets an error back, and the session keeps working.
func TestBadInput(t *testing.T) {
	_, url := start(t)
	for _, tr := range []string{"websocket", "stream", "poll"} {
		t.Run(tr, func(t *testing.T) {
			p := dial(t, url, "ann", tr)
			room := "kitchen " + tr // a room of its own: the other runs' ann may linger
			before := []struct {
				typ  session.MessageType
				data string
				want string
			}{
				{session.Text, `{"type":"say","text":"hi"}`, "join a room first"},
				{session.Text, `not json`, "not a JSON message"},
				{session.Text, `{"type":"say"`, "not a JSON message"},
				{session.Text, `[1,2]`, "not a JSON message"},
				{session.Text, `{"type":"dance"}`, `unknown message type "dance"`},
				{session.Text, `{}`, `unknown message type ""`},
				{session.Binary, "\x00\x01", "binary messages"},
				{session.Text, `{"type":"join","room":"` + strings.Repeat("r", maxName+1) + `"}`, "bad room name"},
				{session.Text, `{"type":"join","room":"a\u0007b"}`, "bad room name"},
				{session.Text, `{"type":"join","room":"ok","name":"a\nb"}`, "bad name"},
				{session.Text, `{"type":"join","room":"ok","name":"` + strings.Repeat("n", maxName+1) + `"}`, "bad name"},
			}
			for _, b := range before {
				if err := p.c.Write(context.Background(), b.typ, []byte(b.data)); err != nil {
					t.Fatal(err)
				}
				p.fails(b.want)
			}
			p.join(room)
			after := []struct{ text, want string }{
				{"", "empty message"},
				{" \n\t", "empty message"},
				{strings.Repeat("x", maxText+1), "message too long"},
			}
			for _, a := range after {
				p.say(a.text)
				p.fails(a.want)
			}
			full := strings.Repeat("x", maxText)
			p.say(full)
			p.expect(msg{Type: "say", Room: room, Name: "ann", Text: full})
			p.send(msg{Type: "join", Room: strings.Repeat("r", maxName+1)})
			p.fails("bad room name")
			p.say("still here")
			p.expect(msg{Type: "say", Room: room, Name: "ann", Text: "still here"})
		})
	}
}

// TestPage: the page and its files are served, with the hooks that browser tests use.
func TestPage(t *testing.T) {
	_, url := start(t)
	get := func(path, wantType string) string {
		t.Helper()
		res, err := http.Get(url + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), wantType) {
			t.Fatalf("GET %s: %s %q", path, res.Status, res.Header.Get("Content-Type"))
		}
		return string(b)
	}
	html := get("/", "text/html")
	for _, hook := range []string{
		`<input id="name"`, `<input id="room"`, `<button id="join"`, `<form id="composer"`,
		`<input id="text"`, `id="members"`, `id="rooms"`, `id="log"`, `id="status"`,
		`<script src="/lifeline/lifeline.min.js">`, `<script src="app.js">`, `href="style.css"`,
	} {
		if !strings.Contains(html, hook) {
			t.Errorf("the page has no %s", hook)
		}
	}
	// The composer form holds the text input.
	if !regexp.MustCompile(`(?s)<form id="composer"[^>]*>.*<input id="text".*</form>`).MatchString(html) {
		t.Error("#text is not inside #composer")
	}
	js := get("/app.js", "text/javascript")
	for _, hook := range []string{
		`document.body.dataset.room =`, `document.body.dataset.me =`, `'msg'`, `el.dataset.name =`,
		`'text'`, `'sys'`, `new Lifeline('/lifeline', opts)`, `onreset`, `'reconnecting…'`, `'closed '`,
	} {
		if !strings.Contains(js, hook) {
			t.Errorf("app.js has no %s", hook)
		}
	}
	if strings.Contains(js, "innerHTML") || strings.Contains(js, "insertAdjacentHTML") {
		t.Error("app.js builds HTML from strings")
	}
	get("/style.css", "text/css")
	get("/lifeline/lifeline.min.js", "text/javascript")
}

// TestFlags: -origin is repeatable and takes comma-separated lists.
func TestFlags(t *testing.T) {
	cases := []struct {
		args []string
		want config
	}{
		{nil, config{addr: "127.0.0.1:8080"}},
		{[]string{"-addr", "127.0.0.1:0"}, config{addr: "127.0.0.1:0"}},
		{[]string{"-origin", "a.example"}, config{addr: "127.0.0.1:8080", origins: []string{"a.example"}}},
		{
			[]string{"-origin", "a.example", "-origin", "b.example,c.example", "-addr=:9000", "-origin= *.d.example , ,"},
			config{addr: ":9000", origins: []string{"a.example", "b.example", "c.example", "*.d.example"}},
		},
	}
	for _, c := range cases {
		got, err := parseFlags(c.args, io.Discard)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("parseFlags(%q) = %+v, %v; want %+v", c.args, got, err, c.want)
		}
	}
	if got, err := parseFlags([]string{"-nats", "nats://127.0.0.1:4222", "-node", "a"}, io.Discard); err != nil ||
		got.nats != "nats://127.0.0.1:4222" || got.node != "a" {
		t.Errorf("-nats -node: %+v, %v", got, err)
	}
	for _, bad := range [][]string{{"-port", "80"}, {"-addr"}, {"extra"}, {"-nats", "nats://x"}, {"-node", "a"}} {
		if _, err := parseFlags(bad, io.Discard); err == nil {
			t.Errorf("parseFlags(%q) did not fail", bad)
		}
	}
}

// TestRun: the command prints its URL once it listens and shuts down promptly,
// although a streaming session is open.
func TestRun(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, config{addr: "127.0.0.1:0"}, pw)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, pr)
	url := regexp.MustCompile(`^chat: open (http://127\.0\.0\.1:\d+)/\n$`).FindStringSubmatch(line)
	if url == nil {
		t.Fatalf("printed %q", line)
	}
	p := dial(t, url[1], "ann", "stream")
	p.join("lobby")

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(4 * time.Second):
		t.Fatal("run did not return within 4 s of the signal")
	}
}

// start serves a chat for the test.
func start(t *testing.T) (*chat, string) {
	c, routes := newChat(nil, nil)
	ts := httptest.NewServer(routes)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c.srv.Shutdown(ctx)
		ts.Close()
	})
	return c, ts.URL
}

// person is one test client.
type person struct {
	t    *testing.T
	c    *client.Conn
	name string
}

func dial(t *testing.T, url, name, tr string) *person {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, url+"/lifeline", &client.Options{
		Transports:      []string{tr},
		MaxMessageBytes: maxMessage, // for the largest "joined"
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.CloseNow() })
	return &person{t, c, name}
}

func encode(m msg) []byte {
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return b
}

func (p *person) send(m msg) {
	p.t.Helper()
	if err := p.c.Write(context.Background(), session.Text, encode(m)); err != nil {
		p.t.Fatal(err)
	}
}

func (p *person) say(text string) { p.t.Helper(); p.send(msg{Type: "say", Text: text}) }

// join joins room and returns the "joined" reply.
func (p *person) join(room string) msg {
	p.t.Helper()
	p.send(msg{Type: "join", Room: room, Name: p.name})
	return p.until("joined")
}

// read returns the next message. The times of chat messages are checked and zeroed.
func (p *person) read() msg {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, b, err := p.c.Read(ctx)
	if err != nil {
		p.t.Fatalf("%s (%s): %v", p.name, p.c.Transport(), err)
	}
	var m msg
	if err := json.Unmarshal(b, &m); err != nil {
		p.t.Fatalf("%s got %q: %v", p.name, b, err)
	}
	m.At = zeroTime(p.t, m)
	for i := range m.History {
		m.History[i].At = zeroTime(p.t, m.History[i])
	}
	return m
}

// next returns the next message but room lists, which must be of type typ.
func (p *person) next(typ string) msg {
	p.t.Helper()
	for {
		m := p.read()
		if m.Type == "rooms" {
			continue
		}
		if m.Type != typ {
			p.t.Fatalf("%s got %+v, want a %s message", p.name, m, typ)
		}
		return m
	}
}

// until returns the next message of type typ, skipping the others.
func (p *person) until(typ string) msg {
	p.t.Helper()
	for {
		if m := p.read(); m.Type == typ {
			return m
		}
	}
}

// zeroTime checks that a chat message carries a recent time and returns 0.
func zeroTime(t *testing.T, m msg) int64 {
	t.Helper()
	if m.Type != "say" {
		return m.At
	}
	if d := time.Since(time.UnixMilli(m.At)); d < -time.Second || d > time.Minute {
		t.Fatalf("message %+v sent %v ago", m, d)
	}
	return 0
}

// expect reads the next message (room lists aside) and compares it with want.
func (p *person) expect(want msg) {
	p.t.Helper()
	if got := p.next(want.Type); !reflect.DeepEqual(got, want) {
		p.t.Fatalf("%s got %+v, want %+v", p.name, got, want)
	}
}

// rooms reads up to the next room list and compares it with want.
func (p *person) rooms(want ...roomInfo) {
	p.t.Helper()
	if got := p.until("rooms"); !reflect.DeepEqual(got.Rooms, want) {
		p.t.Fatalf("%s got rooms %+v, want %+v", p.name, got.Rooms, want)
	}
}

// fails reads the next message (room lists aside), which must be an error saying want.
func (p *person) fails(want string) {
	p.t.Helper()
	if got := p.next("error"); !strings.Contains(got.Text, want) {
		p.t.Fatalf("%s got error %q, want one saying %q", p.name, got.Text, want)
	}
}

// TestHTTPServerTimeouts: the http.Server bounds a slow request head and an idle
// keep-alive connection (one set only ReadHeaderTimeout: an idle connection stayed
// open forever), and sets no timeout that would cut a held poll or a stream.
func TestHTTPServerTimeouts(t *testing.T) {
	hs := httpServer(http.NotFoundHandler())
	if hs.ReadHeaderTimeout <= 0 || hs.IdleTimeout <= 0 {
		t.Fatalf("ReadHeaderTimeout %v, IdleTimeout %v: both must be set", hs.ReadHeaderTimeout, hs.IdleTimeout)
	}
	if hs.ReadTimeout != 0 || hs.WriteTimeout != 0 {
		t.Fatalf("ReadTimeout %v, WriteTimeout %v: they would cut polls and streams", hs.ReadTimeout, hs.WriteTimeout)
	}
}

// TestServedBy: in a cluster every response names the node that received its request,
// and a WebSocket handshake that names its connection (?conn=) also sets the cookie
// the page reads; a bad connection name sets none.
func TestServedBy(t *testing.T) {
	c := &chat{node: "node2"}
	h := c.served(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	for _, tc := range []struct {
		target, upgrade, cookie string
	}{
		{"/lifeline/poll", "", ""},
		{"/lifeline/ws?conn=k3x9a1", "websocket", "chat-node-k3x9a1=node2"},
		{"/lifeline/poll?conn=k3x9a1", "", ""},
		{"/lifeline/ws?conn=A%3Bb", "websocket", ""},
	} {
		r := httptest.NewRequest("GET", tc.target, nil)
		if tc.upgrade != "" {
			r.Header.Set("Upgrade", tc.upgrade)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		cookie, _, _ := strings.Cut(w.Header().Get("Set-Cookie"), ";")
		if got := w.Header().Get("Chat-Node"); got != "node2" || cookie != tc.cookie {
			t.Errorf("%s: Chat-Node %q, cookie %q; want node2 and %q", tc.target, got, cookie, tc.cookie)
		}
	}
}
