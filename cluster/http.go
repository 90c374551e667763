package cluster

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/lifelinehq/lifeline/closecode"
	"github.com/lifelinehq/lifeline/transport"
)

// relay carries one owner's requests (server.Relay). It holds no state of its own.
type relay struct {
	c     *Cluster
	owner string // Prefix.<owner>.
}

// ServeHTTP relays a send, poll or stream request: the request goes to the owner in
// one message whose reply subject is a fresh flow of this node; the owner answers
// with one message (a send, a poll that completes) or a numbered run of them (a
// stream: each flush of the owner's response is a message, written and flushed here
// as it arrives). A gap, a lost flow or an owner that stops answering probes aborts
// the response, so that the client sees a broken connection and resumes: its acks
// make the owner resend what was lost. "No responders" (the owner is gone) answers as
// an unknown session: 404 and close code 4404, and the client resets.
func (rl *relay) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c := rl.c
	max := int(c.nc.MaxPayload())
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRelayBody+1))
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	b := appendStart(make([]byte, 0, 512+min(len(body), max)), kindRequest, 0)
	b = appendString(b, r.Method)
	b = appendString(b, r.URL.RequestURI())
	b = appendString(b, r.Host)
	b = appendString(b, r.RemoteAddr)
	b = appendHeader(b, r.Header)
	b = appendUvarint(b, len(body))
	room := max - len(b)
	if len(body) > maxRelayBody || room < 1024 {
		refuse(w, closecode.TooLarge, "request too large to relay")
		return
	}
	// A body larger than a NATS message goes on in numbered messages to a flow of the
	// owner, which names it in its first answer (kindOpen).
	rest := body[min(room, len(body)):]
	b = append(b, body[:len(body)-len(rest)]...)
	c.stats.relayed.Add(1)
	f := c.newFlow()
	defer f.close()
	ctx := r.Context()
	if err := c.nc.PublishRequest(rl.owner+"http", f.subj, b); err != nil {
		c.log.Warn("lifeline/cluster: relay failed", "err", err)
		panic(http.ErrAbortHandler) // the client retries; its session is intact
	}
	rc := http.NewResponseController(w)
	for {
		m, kind, rd, err := f.recv(ctx, rl.owner+"ctl", f.subj)
		if err == nil && noResponders(m) && f.next == 1 {
			if c.believeNoResponders() {
				c.stats.unknown.Add(1)
				refuse(w, closecode.Unknown, "unknown session") // the owner is gone
				return
			}
			// NATS restarted: the owner may not have resubscribed yet.
			if !sleep(ctx) {
				return
			}
			if c.nc.PublishRequest(rl.owner+"http", f.subj, b) != nil {
				panic(http.ErrAbortHandler)
			}
			continue
		}
		if err == nil && kind == kindOpen && len(rest) > 0 {
			out := &sender{c: c, to: rd.string()}
			for len(rest) > 0 && rd.err == nil {
				part := rest[:min(len(rest), max-64)]
				rest = rest[len(part):]
				if out.send(kindMessage, func(b []byte) []byte { return append(b, part...) }) != nil {
					break
				}
			}
			if len(rest) == 0 && rd.err == nil {
				continue
			}
		}
		if err != nil || kind != kindResponse {
			rl.cancel(f)
			panic(http.ErrAbortHandler)
		}
		flags := rd.byte()
		if flags&flagHead != 0 {
			status := int(rd.uvarint())
			h := rd.header()
			if rd.err != nil || status < 100 || status > 999 {
				rl.cancel(f)
				panic(http.ErrAbortHandler)
			}
			for k, v := range h {
				w.Header()[k] = v
			}
			w.WriteHeader(status)
		}
		if p := rd.rest(); len(p) > 0 {
			if _, err := w.Write(p); err != nil {
				rl.cancel(f)
				return
			}
		}
		if flags&flagEnd != 0 {
			return
		}
		if rc.Flush() != nil {
			rl.cancel(f)
			return
		}
	}
}

// cancel tells the owner to stop serving a request whose client went away.
func (rl *relay) cancel(f *flow) {
	rl.c.nc.Publish(rl.owner+"ctl", appendString(appendStart(nil, kindCancel, 0), f.subj))
}

// refuse answers as the Server does (a C frame body, the code's status).
func refuse(w http.ResponseWriter, code closecode.Code, reason string) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(transport.HTTPStatus(code))
	w.Write(transport.AppendEvent(nil, transport.AppendClose(nil, code, reason)))
}

// serveHTTP serves a request relayed from another node: it runs this node's Server
// on the request, in process, with a ResponseWriter that publishes each flush as one
// numbered message to the relay's flow. While it runs it probes the relay's flow, and
// a cancel from the relay ends it.
func (c *Cluster) serveHTTP(m *nats.Msg) {
	rd := reader{b: m.Data}
	rd.start()
	method, uri, host, remote := rd.string(), rd.string(), rd.string(), rd.string()
	h := rd.header()
	total := rd.uvarint()
	body := rd.rest()
	u, err := url.ParseRequestURI(uri)
	if rd.err != nil || err != nil || m.Reply == "" || total > maxRelayBody || uint64(len(body)) > total {
		c.log.Warn("lifeline/cluster: malformed relayed request", "subject", m.Subject)
		return
	}
	c.stats.served.Add(1)
	ctx, cancel := context.WithCancel(c.ctx)
	defer cancel()
	defer c.serving(m.Reply, cancel)()
	w := &writer{s: sender{c: c, to: m.Reply}, h: make(http.Header), max: int(c.nc.MaxPayload()) - 1024}
	if uint64(len(body)) < total { // the rest of the body comes to a flow of ours
		if body = c.receiveBody(ctx, &w.s, m.Reply, body, int(total)); body == nil {
			return // lost: the relay's probe learns it is no longer served
		}
	}
	r := (&http.Request{Method: method, URL: u, RequestURI: uri, Host: host, RemoteAddr: remote,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Header: h,
		Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body))}).WithContext(ctx)
	probed := c.goProbe(ctx, cancel, m.Reply, m.Reply)
	if c.started.Load() {
		c.node.ServeHTTP(w, r)
	} else {
		refuse(w, closecode.Unknown, "unknown session") // a session of this node's previous life
	}
	cancel()
	<-probed
	w.end()
}

// maxRelayBody bounds the body of a relayed request (the owner's MaxBodyBytes applies
// too).
const maxRelayBody = 16 << 20

// receiveBody names a flow to the relay (the first message of back) and collects the
// rest of a request body from it, up to total bytes. It returns nil if the flow
// loses a message or the relay goes away.
func (c *Cluster) receiveBody(ctx context.Context, back *sender, relay string, body []byte, total int) []byte {
	f := c.newFlow()
	defer f.close()
	if back.send(kindOpen, func(b []byte) []byte { return appendString(b, f.subj) }) != nil {
		return nil
	}
	body = append(make([]byte, 0, total), body...)
	for len(body) < total {
		_, kind, rd, err := f.recv(ctx, relay, relay)
		if err != nil || kind != kindMessage {
			return nil
		}
		body = append(body, rd.rest()...)
	}
	if len(body) != total {
		return nil
	}
	return body
}

// writer is the owner's ResponseWriter for a relayed request: each flush becomes one
// numbered message (the first with the status and header), and the end of the
// handler the last. It is used by one goroutine.
type writer struct {
	s      sender
	h      http.Header
	status int
	sent   bool // the head went out
	buf    []byte
	max    int
}

func (w *writer) Header() http.Header { return w.h }

func (w *writer) WriteHeader(status int) {
	if w.status == 0 && status >= 200 {
		w.status = status
	}
}

func (w *writer) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if w.s.fail != nil {
		return 0, w.s.fail
	}
	n := len(p)
	for len(w.buf)+len(p) > w.max {
		k := w.max - len(w.buf)
		w.buf = append(w.buf, p[:k]...)
		p = p[k:]
		if err := w.FlushError(); err != nil {
			return 0, err
		}
	}
	w.buf = append(w.buf, p...)
	return n, nil
}

// SetWriteDeadline is accepted for http.ResponseController: publishing never blocks.
func (w *writer) SetWriteDeadline(time.Time) error { return nil }

func (w *writer) FlushError() error { return w.publish(0) }

func (w *writer) Flush() { w.FlushError() }

func (w *writer) end() { w.publish(flagEnd) }

func (w *writer) publish(flags byte) error {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if w.sent && flags == 0 && len(w.buf) == 0 {
		return w.s.fail
	}
	err := w.s.send(kindResponse, func(b []byte) []byte {
		if !w.sent {
			flags |= flagHead
		}
		b = append(b, flags)
		if !w.sent {
			b = appendHeader(appendUvarint(b, w.status), w.h)
		}
		return append(b, w.buf...)
	})
	w.sent = true
	w.buf = w.buf[:0]
	if err != nil {
		return errors.Join(errLost, err)
	}
	return nil
}
