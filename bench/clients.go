package main

import (
	"context"
	"io"
	"log"
	"net/http"
	"strconv"
	"strings"

	"github.com/coder/websocket"

	"github.com/lifelinehq/lifeline/transport"
)

// client is one raw-protocol session: echo sends n messages and waits for their n
// echoes.
type client interface{ echo(n int) }

func open(base, tr string) client {
	switch tr {
	case "bare", "websocket":
		return openWS(base, tr == "bare")
	case "poll", "stream":
		return openHTTP(base, tr)
	case "barehttp":
		return &bareHTTP{url: base + "/echo"}
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

type httpClient struct {
	base, tr   string
	sid, token string
	sent, got  uint64
	stream     *transport.Reader
}

func openHTTP(base, tr string) *httpClient {
	res, err := http.Get(base + "/" + tr)
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
		c.stream = rd
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
	res, err := http.DefaultClient.Do(r)
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
	c.do("POST", "/send", string(b), true)
	for want := c.got + uint64(n); c.got < want; {
		rd := c.stream
		var res *http.Response
		if rd == nil {
			res = c.do("GET", "/poll", "", false)
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

// bareHTTP posts a message and reads it back from the response.
type bareHTTP struct{ url string }

func (b *bareHTTP) echo(n int) {
	res, err := http.Post(b.url, "text/plain", strings.NewReader(strings.Repeat("M"+payload, n)))
	if err != nil {
		log.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
}
