package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/coder/websocket"
)

// The Socket.IO targets: a Socket.IO 4.8 server (socketio/server.js, installed by
// ensureSocketIO) driven by an Engine.IO v4 / Socket.IO v5 client written here, on
// WebSocket (sio-ws: transport=websocket from the start, no polling first) or on
// long-polling (sio-poll). An event is the packet 42["m","<payload>"]; the server
// pings every 25 s (packet 2) and the client answers 3.

// socketIODir is the bench's Node package: bench/socketio from the repository root
// or socketio from bench/.
func socketIODir() string {
	for _, d := range []string{"socketio", filepath.Join("bench", "socketio")} {
		if _, err := os.Stat(filepath.Join(d, "server.js")); err == nil {
			return d
		}
	}
	log.Fatal("bench: socketio/server.js not found: run from the repository root or bench/")
	return ""
}

// ensureSocketIO installs Socket.IO from the lockfile (npm ci) when it is missing.
func ensureSocketIO() string {
	dir := socketIODir()
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "socket.io")); err == nil {
		return dir
	}
	fmt.Fprintln(os.Stderr, "bench: npm ci in", dir)
	cmd := exec.Command("npm", "ci", "--no-audit", "--no-fund")
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		log.Fatalf("bench: npm ci in %s: %v", dir, err)
	}
	return dir
}

const eioPath = "/socket.io/?EIO=4&transport="

// sioEvent is the Socket.IO event packet of name with a string argument (no escaping
// needed: the bench's payloads are ASCII letters, digits and spaces).
func sioEvent(name, arg string) []byte {
	return []byte(`42["` + name + `","` + arg + `"]`)
}

// sioArg returns the string argument of an event packet 42["name","arg"], or nil for
// any other packet.
func sioArg(p []byte) []byte {
	if !bytes.HasPrefix(p, []byte(`42["`)) || !bytes.HasSuffix(p, []byte(`"]`)) {
		return nil
	}
	i := bytes.Index(p, []byte(`","`))
	if i < 0 {
		return nil
	}
	return p[i+3 : len(p)-2]
}

// sioWS is a Socket.IO client on a WebSocket.
type sioWS struct {
	c   *websocket.Conn
	msg []byte
}

func openSioWS(base string) *sioWS {
	ctx := context.Background()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+eioPath+"websocket", nil)
	if err != nil {
		log.Fatal(err)
	}
	c.SetReadLimit(1 << 20)
	if _, p, err := c.Read(ctx); err != nil || len(p) == 0 || p[0] != '0' {
		log.Fatalf("socket.io websocket: open: %q %v", p, err)
	}
	if err := c.Write(ctx, websocket.MessageText, []byte("40")); err != nil {
		log.Fatal(err)
	}
	if _, p, err := c.Read(ctx); err != nil || !bytes.HasPrefix(p, []byte("40")) {
		log.Fatalf("socket.io websocket: connect: %q %v", p, err)
	}
	return &sioWS{c: c, msg: sioEvent("m", payload)}
}

// next returns the next event's argument, answering pings.
func (s *sioWS) next(ctx context.Context) ([]byte, error) {
	for {
		_, p, err := s.c.Read(ctx)
		if err != nil {
			return nil, err
		}
		if len(p) == 1 && p[0] == '2' {
			s.c.Write(ctx, websocket.MessageText, []byte("3"))
			continue
		}
		if a := sioArg(p); a != nil {
			return a, nil
		}
	}
}

func (s *sioWS) echo(n int) {
	ctx := context.Background()
	for range n {
		if err := s.c.Write(ctx, websocket.MessageText, s.msg); err != nil {
			log.Fatal(err)
		}
	}
	for range n {
		if _, err := s.next(ctx); err != nil {
			log.Fatal(err)
		}
	}
}

func (s *sioWS) listen(ctx context.Context, on func([]byte)) {
	defer s.c.CloseNow()
	for {
		a, err := s.next(ctx)
		if err != nil {
			return
		}
		on(a)
	}
}

// sioPoll is a Socket.IO client on long-polling: a POST per batch of packets, a GET
// held for what the server has (packets separated by 0x1e).
type sioPoll struct {
	url        string
	hold, send *http.Client
	msg        []byte
}

func openSioPoll(base string, hold, send *http.Client) *sioPoll {
	res, err := send.Get(base + eioPath + "polling")
	if err != nil {
		log.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	var open struct{ Sid string }
	if len(b) == 0 || b[0] != '0' || json.Unmarshal(b[1:], &open) != nil || open.Sid == "" {
		log.Fatalf("socket.io polling: open: %d %q", res.StatusCode, b)
	}
	s := &sioPoll{url: base + eioPath + "polling&sid=" + open.Sid, hold: hold, send: send, msg: sioEvent("m", payload)}
	s.post(context.Background(), []byte("40"))
	for connected := false; !connected; { // the CONNECT answer comes on a GET
		ps, err := s.poll(context.Background())
		if err != nil {
			log.Fatal(err)
		}
		for _, p := range ps {
			connected = connected || bytes.HasPrefix(p, []byte("40"))
		}
	}
	return s
}

func (s *sioPoll) post(ctx context.Context, body []byte) error {
	r, _ := http.NewRequestWithContext(ctx, "POST", s.url, bytes.NewReader(body))
	r.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	res, err := s.send.Do(r)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != 200 {
		return fmt.Errorf("socket.io polling: POST: %d", res.StatusCode)
	}
	return nil
}

// poll holds a GET and returns its packets, answering pings.
func (s *sioPoll) poll(ctx context.Context) ([][]byte, error) {
	r, _ := http.NewRequestWithContext(ctx, "GET", s.url, nil)
	res, err := s.hold.Do(r)
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		return nil, err
	}
	if res.StatusCode != 200 {
		return nil, fmt.Errorf("socket.io polling: GET: %d %q", res.StatusCode, b)
	}
	ps := bytes.Split(b, []byte{0x1e})
	for _, p := range ps {
		if len(p) == 1 && p[0] == '2' {
			if err := s.post(ctx, []byte("3")); err != nil {
				return nil, err
			}
		}
	}
	return ps, nil
}

func (s *sioPoll) echo(n int) {
	ctx := context.Background()
	body := s.msg
	for range n - 1 {
		body = append(append(body[:len(body):len(body)], 0x1e), s.msg...)
	}
	if err := s.post(ctx, body); err != nil {
		log.Fatal(err)
	}
	for got := 0; got < n; {
		ps, err := s.poll(ctx)
		if err != nil {
			log.Fatal(err)
		}
		for _, p := range ps {
			if sioArg(p) != nil {
				got++
			}
		}
	}
}

func (s *sioPoll) listen(ctx context.Context, on func([]byte)) {
	for {
		ps, err := s.poll(ctx)
		if err != nil {
			return
		}
		for _, p := range ps {
			if a := sioArg(p); a != nil {
				on(a)
			}
		}
	}
}
