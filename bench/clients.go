package main

import (
	"bytes"
	"context"
	"io"
	"log"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	llclient "github.com/lifelinehq/lifeline/client"
	"github.com/lifelinehq/lifeline/internal/engine"
	"github.com/lifelinehq/lifeline/transport"
)

// client is one raw-protocol session: echo sends n messages and waits for their n
// echoes; listen passes each message's payload to on until ctx ends, holding the
// session open as an idle client of its transport does.
type client interface {
	echo(n int)
	listen(ctx context.Context, on func([]byte))
}

// HTTP clients: hold carries the requests held open (streams, polls), send the rest.
// The fan-out runs bound send's connections (10,000 held requests are already as many
// connections) by setting it to sendBounded.
var (
	hold = &http.Client{Transport: &http.Transport{MaxIdleConns: 1 << 16, MaxIdleConnsPerHost: 1 << 16}}
	send = hold

	sendBounded = &http.Client{Transport: &http.Transport{MaxConnsPerHost: 256, MaxIdleConnsPerHost: 256}}
)

func open(base, tr string) client {
	switch tr {
	case "bare", "websocket":
		return openWS(base, tr == "bare")
	case "poll", "stream":
		return openHTTP(base, tr)
	case "barehttp":
		return &bareHTTP{url: base + "/echo"}
	case "tcp":
		return openTCP(base)
	case "sio-ws":
		return openSioWS(base)
	case "sio-poll":
		return openSioPoll(base, hold, send)
	}
	log.Fatalf("unknown transport %q", tr)
	return nil
}

type wsClient struct {
	c    *websocket.Conn
	bare bool
	got  int
	msg  []byte
}

func openWS(base string, bare bool) *wsClient {
	ctx := context.Background()
	u := "ws" + strings.TrimPrefix(base, "http")
	if !bare {
		u += "/ws"
	}
	c, _, err := websocket.Dial(ctx, u, nil)
	if err != nil {
		log.Fatal(err)
	}
	w := &wsClient{c: c, bare: bare, msg: []byte("M" + payload)}
	c.SetReadLimit(1 << 20)
	if !bare {
		c.Write(ctx, websocket.MessageText, transport.AppendResume(nil, &transport.ResumeReq{V: 1}))
		if _, _, err := c.Read(ctx); err != nil {
			log.Fatal(err)
		}
		c.Write(ctx, websocket.MessageText, []byte("A0"))
		c.Write(ctx, websocket.MessageText, []byte("S1"))
	}
	return w
}

func (w *wsClient) echo(n int) {
	ctx := context.Background()
	for range n {
		if err := w.c.Write(ctx, websocket.MessageText, w.msg); err != nil {
			log.Fatal(err)
		}
	}
	for range n {
		for {
			_, p, err := w.c.Read(ctx)
			if err != nil {
				log.Fatal(err)
			}
			if w.bare || p[0] == 'M' {
				break
			}
		}
		if w.got++; !w.bare && w.got%32 == 0 {
			w.c.Write(ctx, websocket.MessageText, []byte("A"+strconv.Itoa(w.got)))
		}
	}
}

// listen reads until ctx ends, acknowledging as the Go client does (acker).
func (w *wsClient) listen(ctx context.Context, on func([]byte)) {
	defer w.c.CloseNow()
	a := &acker{send: func(n uint64) { w.c.Write(ctx, websocket.MessageText, transport.AppendNum(nil, transport.FrameAck, n)) }}
	a.got.Store(uint64(w.got))
	for {
		_, p, err := w.c.Read(ctx)
		if err != nil {
			return
		}
		if !w.bare {
			if len(p) == 1 && p[0] == transport.FramePing {
				a.ping()
			}
			if len(p) == 0 || p[0] != transport.FrameText {
				continue
			}
			p = p[1:]
			a.received()
		}
		on(p)
	}
}

// ackDelay and ackJitter are how long after the first unacknowledged message an acker
// acks: ackDelay plus a random part of ackJitter, as the Go and browser clients do
// (docs/protocol.md §5: 5 s plus up to 5 s) unless the -ackdelay and -ackjitter flags
// say otherwise.
var ackDelay, ackJitter = llclient.AckDelay, llclient.AckDelay

func ackWait() time.Duration {
	return engine.Config{AckDelay: ackDelay, AckJitter: ackJitter}.AckWait()
}

// acker acknowledges received messages as the Go client does by default: ackWait
// after the first unacknowledged one, at once at 32 or on a P, one ack at a time.
type acker struct {
	got, acked atomic.Uint64
	armed      atomic.Bool
	mu         sync.Mutex // one ack at a time
	send       func(n uint64)
}

func (a *acker) received() {
	if n := a.got.Add(1); n-a.acked.Load() >= 32 {
		if !a.armed.Swap(true) {
			go a.fire()
		}
	} else if !a.armed.Swap(true) {
		time.AfterFunc(ackWait(), a.fire)
	}
}

// ping answers a P: what is unacknowledged is acknowledged at once (protocol.md §5).
func (a *acker) ping() {
	if a.got.Load() > a.acked.Load() {
		go a.fire()
	}
}

func (a *acker) fire() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if n := a.got.Load(); n > a.acked.Load() { // a timer armed before a P's ack finds nothing new
		a.send(n)
		a.acked.Store(n)
	}
	a.armed.Store(false)
}

type httpClient struct {
	base, tr   string
	sid, token string
	sent, got  uint64
	stream     *transport.Reader
	body       io.Closer // the stream's
}

func openHTTP(base, tr string) *httpClient {
	res, err := hold.Get(base + "/" + tr)
	if err != nil {
		log.Fatal(err)
	}
	rd := transport.NewReader(res.Body, 1<<20)
	f, err := rd.Next()
	if err != nil {
		log.Fatal(err)
	}
	h, err := transport.DecodeHello(f.Data)
	if err != nil {
		log.Fatal(err)
	}
	c := &httpClient{base: base, tr: tr, sid: h.SessionID, token: h.Token}
	if tr == "stream" {
		c.stream, c.body = rd, res.Body
	} else {
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
	}
	c.do("POST", "/send", "data:A0\n\n", true)
	return c
}

func (c *httpClient) do(method, path, body string, discard bool) *http.Response {
	r, _ := http.NewRequest(method, c.base+path, strings.NewReader(body))
	r.Header.Set(transport.HeaderSession, c.sid)
	r.Header.Set(transport.HeaderToken, c.token)
	r.Header.Set(transport.HeaderAck, strconv.FormatUint(c.got, 10))
	hc := send
	if method == "GET" {
		hc = hold
	}
	res, err := hc.Do(r)
	if err != nil {
		log.Fatal(err)
	}
	if res.StatusCode != 200 {
		log.Fatalf("%s %s: %d", method, path, res.StatusCode)
	}
	if discard {
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
	}
	return res
}

func (c *httpClient) echo(n int) {
	b := transport.AppendEvent(nil, transport.AppendNum(nil, 'S', c.sent+1))
	for range n {
		c.sent++
		b = transport.AppendEvent(b, []byte("M"+payload))
	}
	if c.tr == "stream" && c.got%32 == 0 && c.got > 0 {
		b = transport.AppendEvent(b, transport.AppendNum(nil, 'A', c.got))
	}
	// A poller sends with its next poll (a POST poll, docs/protocol.md §5), as the
	// clients do when they have something to send as they poll.
	var res *http.Response
	if c.tr == "stream" {
		c.do("POST", "/send", string(b), true)
	} else {
		res = c.do("POST", "/poll", string(b), false)
	}
	for want := c.got + uint64(n); c.got < want; res = nil {
		rd := c.stream
		if rd == nil {
			if res == nil {
				res = c.do("GET", "/poll", "", false)
			}
			rd = transport.NewReader(res.Body, 1<<20)
		}
		for c.got < want {
			f, err := rd.Next()
			if err == io.EOF && res != nil {
				break // the poll's batch ended: poll again
			}
			if err != nil {
				log.Fatal(err)
			}
			if f.Type == 'M' {
				c.got++
			}
		}
		if res != nil {
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
		}
	}
}

// listen holds the stream, or a poll after another, until ctx ends. Poll responses
// are acknowledged by the next poll's header; a stream's messages by acker.
func (c *httpClient) listen(ctx context.Context, on func([]byte)) {
	if c.stream != nil {
		a := &acker{send: func(n uint64) {
			r, _ := http.NewRequestWithContext(ctx, "POST", c.base+"/send", bytes.NewReader(transport.AppendEvent(nil, transport.AppendNum(nil, transport.FrameAck, n))))
			r.Header.Set(transport.HeaderSession, c.sid)
			r.Header.Set(transport.HeaderToken, c.token)
			if res, err := send.Do(r); err == nil {
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
			}
		}}
		a.got.Store(c.got)
		stop := context.AfterFunc(ctx, func() { c.body.Close() })
		defer stop()
		for {
			f, err := c.stream.Next()
			if err != nil {
				return
			}
			switch f.Type {
			case transport.FrameText:
				a.received()
				on(f.Data)
			case transport.FramePing:
				a.ping()
			}
		}
	}
	for ctx.Err() == nil {
		r, _ := http.NewRequestWithContext(ctx, "GET", c.base+"/poll", nil)
		r.Header.Set(transport.HeaderSession, c.sid)
		r.Header.Set(transport.HeaderToken, c.token)
		r.Header.Set(transport.HeaderAck, strconv.FormatUint(c.got, 10))
		res, err := hold.Do(r)
		if err != nil {
			return
		}
		rd := transport.NewReader(res.Body, 1<<20)
		for {
			f, err := rd.Next()
			if err != nil {
				break
			}
			if f.Type == transport.FrameText {
				c.got++
				on(f.Data)
			}
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			return
		}
	}
}

// bareHTTP posts a message and reads it back from the response.
type bareHTTP struct{ url string }

func (b *bareHTTP) echo(n int) {
	// The pooled client: every session keeps its connection (http.Post's default pool
	// keeps two, and 1,000 sessions would measure connection set-up instead).
	res, err := send.Post(b.url, "text/plain", strings.NewReader(strings.Repeat("M"+payload, n)))
	if err != nil {
		log.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
}

func (b *bareHTTP) listen(ctx context.Context, on func([]byte)) { <-ctx.Done() }
