package cluster

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/coder/websocket"
	"github.com/nats-io/nats.go"

	"github.com/lifelinehq/lifeline/closecode"
	"github.com/lifelinehq/lifeline/server"
)

// ServeWebSocket relays an accepted WebSocket: its first frame goes to the owner,
// which opens a WebSocket of its own into its own Server (through an in-memory
// listener) and answers with the subject of its side of the flow. From then on each
// message is one numbered NATS message, in each direction, and a close carries its
// code and reason across. A gap or a lost flow in either direction ends both
// connections abruptly, so the client resumes and acks make the owner resend what was
// lost. "No responders" closes with 4404 (unknown session): the client resets.
func (rl *relay) ServeWebSocket(ctx context.Context, ws server.MessageConn, first []byte) {
	c := rl.c
	c.stats.relayed.Add(1)
	c.stats.relayedWS.Add(1)
	f := c.newFlow()
	defer f.close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer ws.CloseNow()
	ws.SetReadLimit(maxRelayBody) // the owner applies its MaxMessageBytes
	open := appendBytes(appendStart(nil, kindWebSocket, 0), first)
	if r := server.UpgradeRequest(ctx); r != nil { // for the owner's Authenticate and admission
		open = appendString(open, r.Host)
		open = appendString(open, r.RemoteAddr)
		open = appendHeader(open, upgradeHeader(r.Header))
	} else {
		open = appendHeader(appendString(appendString(open, ""), ""), nil)
	}
	if c.nc.PublishRequest(rl.owner+"ws", f.subj, open) != nil {
		return
	}
	var out *sender
	for out == nil {
		m, kind, rd, err := f.recv(ctx, rl.owner+"ctl", f.subj)
		switch {
		case err == nil && noResponders(m) && f.next == 1:
			if c.believeNoResponders() {
				c.stats.unknown.Add(1)
				ws.Close(websocket.StatusCode(closecode.Unknown), "unknown session") // the owner is gone
				return
			}
			if !sleep(ctx) || c.nc.PublishRequest(rl.owner+"ws", f.subj, open) != nil {
				return
			}
		case err == nil && kind == kindOpen:
			out = &sender{c: c, to: rd.string()}
			if rd.err != nil {
				return
			}
		case err == nil && kind == kindClose:
			closeWith(ws, rd)
			return
		default:
			return
		}
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // client → owner
		defer wg.Done()
		defer cancel()
		pump(ctx, ws, out)
	}()
	var in assembler
	for { // owner → client
		_, kind, rd, err := f.recv(ctx, rl.owner+"ctl", f.subj)
		if err != nil || !in.deliver(ctx, ws, kind, rd) {
			break
		}
	}
	cancel()
	ws.CloseNow()
	wg.Wait()
}

// pump sends each message read from ws through out, then its close.
func pump(ctx context.Context, ws server.MessageConn, out *sender) {
	for {
		typ, p, err := ws.Read(ctx)
		if err != nil {
			code, reason := websocket.StatusAbnormalClosure, ""
			var ce websocket.CloseError
			if errors.As(err, &ce) {
				code, reason = ce.Code, ce.Reason
			}
			out.send(kindClose, func(b []byte) []byte {
				return appendString(appendUvarint(b, int(code)), reason)
			})
			return
		}
		if sendMessage(out, typ, p) != nil {
			return
		}
	}
}

// sendMessage sends one WebSocket message through out: a message larger than a NATS
// message goes in parts, the last one kindMessage.
func sendMessage(out *sender, typ websocket.MessageType, p []byte) error {
	part := int(out.c.nc.MaxPayload()) - 64
	for len(p) > part {
		head := p[:part]
		if err := out.send(kindPart, func(b []byte) []byte { return append(b, head...) }); err != nil {
			return err
		}
		p = p[part:]
	}
	return out.send(kindMessage, func(b []byte) []byte { return append(append(b, byte(typ)), p...) })
}

// assembler puts together the parts of a WebSocket message.
type assembler struct{ buf []byte }

// part adds a kindPart message's bytes and returns how many are held so far.
func (a *assembler) part(rd *reader) int {
	a.buf = append(a.buf, rd.rest()...)
	return len(a.buf)
}

// message returns the whole message a kindMessage message ends, its parts first.
func (a *assembler) message(rd *reader) (websocket.MessageType, []byte) {
	typ := websocket.MessageType(rd.byte())
	p := rd.rest()
	if a.buf != nil {
		p = append(a.buf, p...)
		a.buf = nil
	}
	return typ, p
}

// deliver writes one message of the flow to ws (once its parts are in), or closes ws
// as it says. It reports whether the flow goes on.
func (a *assembler) deliver(ctx context.Context, ws server.MessageConn, kind byte, rd *reader) bool {
	switch kind {
	case kindPart:
		return a.part(rd) <= maxRelayBody
	case kindMessage:
		typ, p := a.message(rd)
		return rd.err == nil && ws.Write(ctx, typ, p) == nil
	case kindClose:
		closeWith(ws, rd)
	}
	return false
}

// closeWith closes ws with the code and reason of a kindClose message; a code that
// cannot be sent (1005, 1006, 1015) closes abruptly.
func closeWith(ws server.MessageConn, rd *reader) {
	code, reason := websocket.StatusCode(rd.uvarint()), rd.string()
	if rd.err != nil || code < 1000 || code > 4999 || code == websocket.StatusNoStatusRcvd ||
		code == websocket.StatusAbnormalClosure || code == websocket.StatusTLSHandshake {
		ws.CloseNow()
		return
	}
	ws.Close(code, reason)
}

// serveWebSocket serves a WebSocket relayed from another node: it hands this node's
// Server a relayedConn, whose messages are the flow's, as if the Server had accepted
// the WebSocket itself (server.ServeRelayedWebSocket). No connection is dialled and no
// WebSocket framing is done on this side: a message goes from the flow to the session
// and from the session to the flow.
func (c *Cluster) serveWebSocket(m *nats.Msg) {
	rd := reader{b: m.Data}
	rd.start()
	first := rd.bytes()
	host, remote, h := rd.string(), rd.string(), rd.header()
	if rd.err != nil || m.Reply == "" {
		c.log.Warn("lifeline/cluster: malformed relayed websocket", "subject", m.Subject)
		return
	}
	c.stats.served.Add(1)
	ctx, cancel := context.WithCancel(c.ctx)
	defer cancel()
	defer c.serving(m.Reply, cancel)()
	f := c.newFlow()
	defer f.close()
	back := &sender{c: c, to: m.Reply}
	node, ok := c.node.(interface {
		ServeRelayedWebSocket(server.MessageConn, *http.Request)
	})
	if !c.started.Load() || !ok {
		back.send(kindClose, func(b []byte) []byte { // a session of this node's previous life
			return appendString(appendUvarint(b, int(closecode.Unknown)), "unknown session")
		})
		return
	}
	if host == "" {
		host = "lifeline"
	}
	r, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+host+"/ws", nil)
	if err != nil {
		back.send(kindClose, func(b []byte) []byte {
			return appendString(appendUvarint(b, int(websocket.StatusProtocolError)), "bad host")
		})
		return
	}
	r.Host, r.RemoteAddr, r.Header = host, remote, h
	if r.Header == nil {
		r.Header = http.Header{}
	}
	if back.send(kindOpen, func(b []byte) []byte { return appendString(b, f.subj) }) != nil {
		return
	}
	rc := &relayedConn{ctx: ctx, cancel: cancel, f: f, out: back, probe: m.Reply, first: first, limit: maxRelayBody}
	node.ServeRelayedWebSocket(rc, r)
	rc.CloseNow()
}

// relayedConn is the owner's side of a relayed WebSocket, a server.MessageConn: each
// message read is the next of the flow (its parts put together), each message written
// is published to the relay, and a close goes across with its code and reason.
type relayedConn struct {
	ctx    context.Context // done when the connection has ended
	cancel context.CancelFunc
	f      *flow
	out    *sender
	probe  string // the relay's flow: asked whether it is still there after Probe of silence

	first []byte    // the client's R frame, the first message read
	limit int64     // SetReadLimit (reading goroutine only, as in)
	in    assembler // the parts of a message being put together
	msg   bytes.Reader

	closed atomic.Bool
}

// Reader returns the next message. ctx may end the wait only when it can end at all:
// the Server reads with a context that never ends and ends the read with CloseNow.
func (rc *relayedConn) Reader(ctx context.Context) (websocket.MessageType, io.Reader, error) {
	if p := rc.first; p != nil {
		rc.first = nil
		rc.msg.Reset(p)
		return websocket.MessageText, &rc.msg, nil
	}
	wait := rc.ctx
	if ctx.Done() != nil {
		var stop context.CancelFunc
		wait, stop = context.WithCancel(rc.ctx)
		defer stop()
		defer context.AfterFunc(ctx, stop)()
	}
	for {
		_, kind, rd, err := rc.f.recv(wait, rc.probe, rc.f.subj)
		if err != nil {
			return 0, nil, err
		}
		switch kind {
		case kindPart:
			if int64(rc.in.part(rd)) > rc.limit {
				return 0, nil, rc.tooBig()
			}
		case kindMessage:
			typ, p := rc.in.message(rd)
			if rd.err != nil {
				rc.CloseNow()
				return 0, nil, errLost
			}
			if int64(len(p)) > rc.limit {
				return 0, nil, rc.tooBig()
			}
			rc.msg.Reset(p)
			return typ, &rc.msg, nil
		case kindClose:
			code, reason := websocket.StatusCode(rd.uvarint()), rd.string()
			rc.end()
			return 0, nil, websocket.CloseError{Code: code, Reason: reason}
		default:
			rc.CloseNow()
			return 0, nil, errLost
		}
	}
}

// tooBig closes with 1009, as coder/websocket does for a message over the read limit.
func (rc *relayedConn) tooBig() error {
	rc.Close(websocket.StatusMessageTooBig, "message too big")
	return errors.New("lifeline/cluster: relayed message over the read limit")
}

// Read returns the next message whole.
func (rc *relayedConn) Read(ctx context.Context) (websocket.MessageType, []byte, error) {
	typ, r, err := rc.Reader(ctx)
	if err != nil {
		return 0, nil, err
	}
	p, err := io.ReadAll(r)
	return typ, p, err
}

// Write publishes one message to the relay, in parts if it is larger than a NATS
// message.
func (rc *relayedConn) Write(_ context.Context, typ websocket.MessageType, p []byte) error {
	if rc.closed.Load() {
		return net.ErrClosed
	}
	return sendMessage(rc.out, typ, p)
}

// Close sends the close to the relay, which closes the client's WebSocket with it.
func (rc *relayedConn) Close(code websocket.StatusCode, reason string) error {
	if rc.closed.Swap(true) {
		return net.ErrClosed
	}
	err := rc.out.send(kindClose, func(b []byte) []byte { return appendString(appendUvarint(b, int(code)), reason) })
	rc.cancel()
	return err
}

// CloseNow ends the connection abruptly: the relay drops the client's WebSocket.
func (rc *relayedConn) CloseNow() error {
	return rc.Close(websocket.StatusAbnormalClosure, "")
}

// end ends the connection after the relay's close: nothing more is sent.
func (rc *relayedConn) end() {
	rc.closed.Store(true)
	rc.cancel()
}

// SetReadLimit bounds the size of a message read.
func (rc *relayedConn) SetReadLimit(n int64) { rc.limit = min(n, maxRelayBody) }

// upgradeHeader returns the header of an upgrade request without what the owner's
// own WebSocket dial sets.
func upgradeHeader(h http.Header) http.Header {
	out := make(http.Header, len(h))
	for k, v := range h {
		switch k {
		case "Connection", "Upgrade", "Host", "Content-Length", "Transfer-Encoding", "Te", "Trailer",
			"Sec-Websocket-Key", "Sec-Websocket-Version", "Sec-Websocket-Extensions", "Sec-Websocket-Accept",
			"Sec-Websocket-Protocol":
			continue
		}
		out[k] = v
	}
	return out
}
