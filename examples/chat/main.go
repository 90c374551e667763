// Command chat is a multi-room chat on Lifeline: go run ./examples/chat
//
// With -nats URL -node NAME it joins a cluster (package cluster, docs/cluster.md):
// run several behind any load balancer and people on different nodes chat together
// (each node keeps its own room lists and history; messages reach every node). make
// cluster-demo runs three behind haproxy. In a cluster every response carries the
// node that received its request (the Chat-Node header; a WebSocket's handshake also
// sets the cookie chat-node-<conn> named by its URL's ?conn=, since a page cannot
// read a handshake's headers), which the page's corner shows beside the transport.
//
// The page (index.html, app.js, style.css) uses the browser client that the server
// serves at /lifeline/lifeline.min.js, with its request module (request.min.js). Page
// and server speak JSON text: the page joins a room with a request, answered with the
// "joined" message (its members and recent history), or failing with the reason; the
// rest are messages:
//
//	page → server  request {"type":"join","room":R,"name":N}  (leaves the current room)
//	               {"type":"join","room":R,"name":N}  (the same as a message: the
//	               server answers with a "joined" or an "error" message)
//	               {"type":"say","text":T}
//	server → page  {"type":"joined","room","name","members","history","rooms","node"}
//	               {"type":"say","room","name","text","at"}       to the room
//	               {"type":"presence","room","name","text":"joined"|"left","members"}
//	               {"type":"rooms","rooms":[{"name","count"}]}     to everyone
//	               {"type":"error","text"}
package main

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/lifelinehq/lifeline/closecode"
	"github.com/lifelinehq/lifeline/cluster"
	"github.com/lifelinehq/lifeline/metrics"
	"github.com/lifelinehq/lifeline/server"
	"github.com/lifelinehq/lifeline/session"
)

//go:embed index.html app.js style.css
var static embed.FS

// Limits of the chat.
const (
	maxName    = 32   // runes in a name or a room name
	maxText    = 2000 // bytes in a message
	maxHistory = 50   // messages a room remembers
	maxMembers = 200  // people in a room
	maxRooms   = 1000 // rooms the chat remembers
	maxListed  = 100  // rooms in a room list, the busiest first

	// maxMessage is the message limit: a "joined" reply carries up to maxHistory
	// messages of maxText bytes, up to six times more once escaped in JSON, so
	// Lifeline's default of 64 KiB is too small. (Browsers take any size; a Go
	// client sets client.Options.Session.MaxMessage.)
	maxMessage = 1 << 20
)

// msg is every message of the chat, both ways; a field is left out of the JSON when
// it is zero (a nil list, but not an empty one).
type msg struct {
	Type    string     `json:"type"`
	Room    string     `json:"room,omitempty"`
	Name    string     `json:"name,omitempty"`
	Text    string     `json:"text,omitempty"`
	At      int64      `json:"at,omitempty"` // unix milliseconds
	Members []string   `json:"members,omitzero"`
	History []msg      `json:"history,omitzero"`
	Rooms   []roomInfo `json:"rooms,omitzero"`
	Node    string     `json:"node,omitempty"` // "joined", in a cluster: the node that owns the session
}

type roomInfo struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
}

// room is one room: who is in it, under which name, and what was said last.
type room struct {
	members map[*session.Session]string
	history []msg
}

// chat is the state of every room. It is safe for concurrent use: one mutex guards
// it, and every message is queued while it is held, so that everyone sees the same
// order (a "joined" reply's history, then what was said after it).
type chat struct {
	srv   *server.Server
	node  string // this node's name in a cluster, or ""
	mu    sync.Mutex
	rooms map[string]*room
}

// newChat returns the chat and its routes: the page at /, Lifeline at /lifeline and
// its Prometheus metrics at /metrics. router is nil on one node.
func newChat(origins []string, router server.Router) (*chat, http.Handler) {
	c := &chat{rooms: make(map[string]*room)}
	if n, ok := router.(interface{ Node() string }); ok {
		c.node = n.Node()
	}
	c.srv = server.New(c, &server.Options{OriginPatterns: origins, MaxMessageBytes: maxMessage, Router: router})
	r := chi.NewRouter()
	if c.node != "" {
		r.Use(c.served)
	}
	r.Mount("/lifeline", c.srv)
	r.Handle("/metrics", metricsHandler(c.srv))
	r.Handle("/*", http.FileServerFS(static))
	return c, r
}

// connName is a page's name for one of its WebSockets (?conn=): the page's cookie
// chat-node-<conn> tells it which node accepted that WebSocket.
var connName = regexp.MustCompile(`^[a-z0-9]{1,24}$`)

// served marks every response with this node's name (Chat-Node): the node that
// received the request, whether it serves the session or relays the request to the
// node that does. The page reads it through its fetch; a WebSocket handshake's
// headers are out of a page's reach, so a WebSocket's also sets a short-lived cookie,
// named after the ?conn= that the page put in its URL.
func (c *chat) served(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Chat-Node", c.node)
		if conn := r.URL.Query().Get("conn"); connName.MatchString(conn) && strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			http.SetCookie(w, &http.Cookie{Name: "chat-node-" + conn, Value: c.node, Path: "/", MaxAge: 60, SameSite: http.SameSiteStrictMode})
		}
		next.ServeHTTP(w, r)
	})
}

// metricsHandler serves srv's metrics (package metrics) and the Go runtime's in the
// Prometheus text format. The collector lives as long as srv.
func metricsHandler(srv *server.Server) http.Handler {
	col, err := metrics.New(srv, nil)
	if err != nil {
		panic(err) // only bad options fail, and these are the defaults
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(col, collectors.NewGoCollector())
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}

// ServeSession reads one person's messages until the session ends, and answers their
// join requests.
func (c *chat) ServeSession(ctx context.Context, s *session.Session) {
	var (
		mu         sync.Mutex // guards room, name and gone: requests run on goroutines of their own
		room, name string     // where s is; "" until it joins
		gone       bool       // the session ended: a request still running joins nothing
	)
	// join joins s to the room asked for; reply gets the "joined" message (under the
	// chat's lock, so that it comes before what is said in the room after it).
	join := func(m msg, reply func(msg)) error {
		mu.Lock()
		defer mu.Unlock()
		if gone {
			return errors.New("the session ended")
		}
		r, n, err := c.join(s, room, name, m.Room, m.Name, reply)
		if err == nil {
			room, name = r, n
		}
		return err
	}
	s.OnRequest(func(ctx context.Context, req []byte) ([]byte, error) {
		var m msg
		if err := json.Unmarshal(req, &m); err != nil || m.Type != "join" {
			return nil, errors.New(`ask to join: {"type":"join","room":"lobby","name":"you"}`)
		}
		var joined msg
		if err := join(m, func(j msg) { joined = j }); err != nil {
			return nil, err
		}
		return json.Marshal(joined)
	})
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		gone = true
		c.leave(s, room, name)
	}()
	for {
		typ, p, err := s.Read(ctx)
		if err != nil {
			return
		}
		if typ != session.Text {
			c.fail(s, "binary messages are not understood: send JSON text")
			continue
		}
		var m msg
		if err := json.Unmarshal(p, &m); err != nil {
			c.fail(s, `not a JSON message: send {"type":"say","text":"hi"}`)
			continue
		}
		switch m.Type {
		case "join":
			if err := join(m, func(j msg) { c.send(s, j) }); err != nil {
				c.fail(s, err.Error())
			}
		case "say":
			mu.Lock()
			r, n := room, name
			mu.Unlock()
			c.say(s, r, n, m.Text)
		default:
			c.fail(s, fmt.Sprintf("unknown message type %q: use join or say", m.Type))
		}
	}
}

// join moves s from room old (if any) to the room asked for, under a name no one
// else there has, and gives reply the "joined" message. It returns where s is now, or
// why it stays where it was.
func (c *chat) join(s *session.Session, old, oldName, askedRoom, askedName string, reply func(msg)) (string, string, error) {
	roomName, err := clean(askedRoom, "lobby")
	if err != nil {
		return "", "", errors.New("bad room name: " + err.Error())
	}
	name, err := clean(askedName, "guest")
	if err != nil {
		return "", "", errors.New("bad name: " + err.Error())
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.rooms[roomName]
	switch {
	case r == nil && len(c.rooms) >= maxRooms:
		return "", "", fmt.Errorf("too many rooms (%d): join one of the list", maxRooms)
	case r != nil && roomName != old && len(r.members) >= maxMembers:
		return "", "", fmt.Errorf("room %q is full (%d people)", roomName, maxMembers)
	}
	if old != "" {
		c.leaveLocked(s, old, oldName)
		r = c.rooms[roomName] // leaving may have forgotten it
	}
	if r == nil {
		r = &room{members: make(map[*session.Session]string)}
		c.rooms[roomName] = r
	}
	name = r.unique(name)
	r.members[s] = name
	c.broadcast(group(roomName), msg{Type: "presence", Room: roomName, Name: name, Text: "joined", Members: r.names()})
	c.srv.Join(group(roomName), s) // after the presence, which s does not need
	reply(msg{Type: "joined", Room: roomName, Name: name, Members: r.names(),
		History: append([]msg{}, r.history...), Rooms: c.list(), Node: c.node})
	c.broadcast("", msg{Type: "rooms", Rooms: c.list()})
	return roomName, name, nil
}

// say sends text to the room of s.
func (c *chat) say(s *session.Session, room, name, text string) {
	switch {
	case room == "":
		c.fail(s, `join a room first: {"type":"join","room":"lobby","name":"you"}`)
		return
	case strings.TrimSpace(text) == "":
		c.fail(s, "empty message")
		return
	case len(text) > maxText:
		c.fail(s, fmt.Sprintf("message too long: %d bytes, at most %d", len(text), maxText))
		return
	}
	m := msg{Type: "say", Room: room, Name: name, Text: text, At: time.Now().UnixMilli()}
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.rooms[room]
	r.history = append(r.history, m)
	if n := len(r.history); n > maxHistory {
		r.history = slices.Clone(r.history[n-maxHistory:])
	}
	c.broadcast(group(room), m)
}

// leave takes s out of its room, if it is in one.
func (c *chat) leave(s *session.Session, room, name string) {
	if room == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.leaveLocked(s, room, name)
	c.broadcast("", msg{Type: "rooms", Rooms: c.list()})
}

// leaveLocked takes s out of room and tells the room; it forgets a room left with no
// one in it and nothing said.
func (c *chat) leaveLocked(s *session.Session, roomName, name string) {
	r := c.rooms[roomName]
	delete(r.members, s)
	c.srv.Leave(group(roomName), s)
	if len(r.members) == 0 && len(r.history) == 0 {
		delete(c.rooms, roomName)
		return
	}
	c.broadcast(group(roomName), msg{Type: "presence", Room: roomName, Name: name, Text: "left", Members: r.names()})
}

// list returns the room list: the busiest rooms first, then by name.
func (c *chat) list() []roomInfo {
	list := make([]roomInfo, 0, len(c.rooms))
	for name, r := range c.rooms {
		list = append(list, roomInfo{name, len(r.members)})
	}
	slices.SortFunc(list, func(a, b roomInfo) int {
		if a.Count != b.Count {
			return b.Count - a.Count
		}
		return strings.Compare(a.Name, b.Name)
	})
	return list[:min(len(list), maxListed)]
}

// names returns the names of the members, sorted.
func (r *room) names() []string {
	names := make([]string, 0, len(r.members))
	for _, n := range r.members {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// unique returns name, or name with the first free suffix " (2)", " (3)"… when
// someone in the room has it already.
func (r *room) unique(name string) string {
	taken := make(map[string]bool, len(r.members))
	for _, n := range r.members {
		taken[n] = true
	}
	try := name
	for i := 2; taken[try]; i++ {
		suffix := fmt.Sprintf(" (%d)", i)
		base := []rune(name)
		base = base[:min(len(base), maxName-utf8.RuneCountInString(suffix))]
		try = string(base) + suffix
	}
	return try
}

// group is the Lifeline group of a room's members; the group "" holds everyone.
func group(room string) string { return "room:" + room }

// send queues m for s without waiting; like server.Broadcast it drops a session that
// fell too far behind, which tells its client that it missed messages.
func (c *chat) send(s *session.Session, m msg) {
	b, _ := json.Marshal(m)
	if s.TryWrite(session.Text, b) == session.ErrQueueFull {
		s.CloseNow(closecode.Overflow, "queue overflow")
	}
}

func (c *chat) broadcast(group string, m msg) {
	b, _ := json.Marshal(m)
	c.srv.Broadcast(group, session.Text, b)
}

// fail tells s what was wrong with its message.
func (c *chat) fail(s *session.Session, text string) { c.send(s, msg{Type: "error", Text: text}) }

// clean trims a name and checks it: 1 to maxName runes, no control characters; an
// empty one becomes def.
func clean(s, def string) (string, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return def, nil
	case utf8.RuneCountInString(s) > maxName:
		return "", fmt.Errorf("longer than %d characters", maxName)
	case strings.ContainsFunc(s, unicode.IsControl):
		return "", errors.New("control characters are not allowed")
	}
	return s, nil
}

// config is what the command line sets.
type config struct {
	addr    string
	origins []string
	nats    string // NATS server URL(s), comma-separated: join a cluster
	node    string // this node's name in the cluster
}

// parseFlags parses the command line. -origin may be repeated and may hold a
// comma-separated list.
func parseFlags(args []string, errOut io.Writer) (config, error) {
	cfg := config{}
	fs := flag.NewFlagSet("chat", flag.ContinueOnError)
	fs.SetOutput(errOut)
	fs.StringVar(&cfg.addr, "addr", "127.0.0.1:8080", "listen `address` (port 0 picks a free one)")
	fs.Func("origin", "other allowed origin host `patterns`, like *.example.com; repeatable, comma-separated", func(v string) error {
		for p := range strings.SplitSeq(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				cfg.origins = append(cfg.origins, p)
			}
		}
		return nil
	})
	fs.StringVar(&cfg.nats, "nats", "", "join a cluster over the NATS server at `URL` (comma-separated for several)")
	fs.StringVar(&cfg.node, "node", "", "this node's `name` in the cluster (A-Z a-z 0-9 _ -); needs -nats")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(errOut, "chat: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return config{}, errors.New("unexpected arguments")
	}
	if (cfg.nats == "") != (cfg.node == "") {
		fmt.Fprintln(errOut, "chat: -nats and -node go together")
		return config{}, errors.New("-nats without -node, or -node without -nats")
	}
	return cfg, nil
}

func main() {
	cfg, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// run serves the chat until ctx is done, then shuts down within 5 s. It prints the
// page's URL to out once it listens.
func run(ctx context.Context, cfg config, out io.Writer) error {
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return err
	}
	var cl *cluster.Cluster
	if cfg.nats != "" {
		nc, err := nats.Connect(cfg.nats, nats.Name("lifeline-chat-"+cfg.node), nats.MaxReconnects(-1))
		if err != nil {
			return fmt.Errorf("nats: %w", err)
		}
		defer nc.Close()
		if cl, err = cluster.New(nc, cluster.Options{Node: cfg.node}); err != nil {
			return err
		}
		defer cl.Close() // after the Server's shutdown: its 4503s still reach clients through relays
	}
	var router server.Router
	if cl != nil {
		router = cl
	}
	c, routes := newChat(cfg.origins, router)
	hs := httpServer(routes)
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	fmt.Fprintf(out, "chat: open http://%s/\n", openable(ln.Addr()))

	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// Sessions first: their streams and held polls are requests that
	// http.Server.Shutdown would otherwise wait for.
	if err := c.srv.Shutdown(ctx); err != nil {
		log.Printf("chat: shutdown: %v", err)
	}
	if err := hs.Shutdown(ctx); err != nil {
		log.Printf("chat: shutdown: %v", err)
	}
	<-served
	return nil
}

// openable returns addr as a browser can open it: localhost for an unspecified IP.
func openable(addr net.Addr) string {
	a, ok := addr.(*net.TCPAddr)
	if !ok || !a.IP.IsUnspecified() {
		return addr.String()
	}
	return net.JoinHostPort("localhost", fmt.Sprint(a.Port))
}

// httpServer is the http.Server for Lifeline (docs/security.md): ReadHeaderTimeout
// bounds a slow request head, IdleTimeout closes idle keep-alive connections. No
// ReadTimeout or WriteTimeout: they bound a whole request or response, and would cut
// held polls and streams; Lifeline sets its own write deadlines and heartbeats.
func httpServer(h http.Handler) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second}
}
