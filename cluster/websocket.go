package cluster

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"

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
func (rl *relay) ServeWebSocket(ctx context.Context, ws *websocket.Conn, first []byte) {
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
func pump(ctx context.Context, ws *websocket.Conn, out *sender) {
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
		// A message larger than a NATS message goes in parts, the last one kindMessage.
		part := int(out.c.nc.MaxPayload()) - 64
		for len(p) > part {
			head := p[:part]
			if out.send(kindPart, func(b []byte) []byte { return append(b, head...) }) != nil {
				return
			}
			p = p[part:]
		}
		if out.send(kindMessage, func(b []byte) []byte { return append(append(b, byte(typ)), p...) }) != nil {
			return
		}
	}
}

// assembler puts together the parts of a WebSocket message.
type assembler struct{ buf []byte }

// deliver writes one message of the flow to ws (once its parts are in), or closes ws
// as it says. It reports whether the flow goes on.
func (a *assembler) deliver(ctx context.Context, ws *websocket.Conn, kind byte, rd *reader) bool {
	switch kind {
	case kindPart:
		a.buf = append(a.buf, rd.rest()...)
		return len(a.buf) <= maxRelayBody
	case kindMessage:
		typ := websocket.MessageType(rd.byte())
		p := rd.rest()
		if a.buf != nil {
			p = append(a.buf, p...)
			a.buf = nil
		}
		return rd.err == nil && ws.Write(ctx, typ, p) == nil
	case kindClose:
		closeWith(ws, rd)
	}
	return false
}

// closeWith closes ws with the code and reason of a kindClose message; a code that
// cannot be sent (1005, 1006, 1015) closes abruptly.
func closeWith(ws *websocket.Conn, rd *reader) {
	code, reason := websocket.StatusCode(rd.uvarint()), rd.string()
	if rd.err != nil || code < 1000 || code > 4999 || code == websocket.StatusNoStatusRcvd ||
		code == websocket.StatusAbnormalClosure || code == websocket.StatusTLSHandshake {
		ws.CloseNow()
		return
	}
	ws.Close(code, reason)
}

// serveWebSocket serves a WebSocket relayed from another node: it dials this node's
// Server through the in-memory listener, writes the client's first frame, and pumps
// messages between that connection and the relay's flow.
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
	refuse := func(code websocket.StatusCode, reason string) {
		back.send(kindClose, func(b []byte) []byte { return appendString(appendUvarint(b, int(code)), reason) })
	}
	if !c.started.Load() {
		refuse(websocket.StatusCode(closecode.Unknown), "unknown session") // a session of this node's previous life
		return
	}
	if host == "" {
		host = "lifeline"
	}
	dctx := context.WithValue(ctx, remoteKey{}, remote)
	ws, _, err := websocket.Dial(dctx, "ws://lifeline/ws", &websocket.DialOptions{HTTPClient: c.wsClient,
		HTTPHeader: h, Host: host})
	if err != nil {
		refuse(websocket.StatusAbnormalClosure, "") // closing: the client resumes and learns more

		return
	}
	defer ws.CloseNow()
	ws.SetReadLimit(maxRelayBody)
	if ws.Write(ctx, websocket.MessageText, first) != nil ||
		back.send(kindOpen, func(b []byte) []byte { return appendString(b, f.subj) }) != nil {
		return
	}
	probed := c.goProbe(ctx, cancel, m.Reply, f.subj)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // owner → relay
		defer wg.Done()
		defer cancel()
		pump(ctx, ws, back)
	}()
	var in assembler
	for { // relay → owner
		_, kind, rd, err := f.recv(ctx, "", "")
		if err != nil || !in.deliver(ctx, ws, kind, rd) {
			break
		}
	}
	cancel()
	ws.CloseNow()
	wg.Wait()
	<-probed
}

// pipeListener is the owner's in-memory listener: relayed WebSockets reach the
// Server through it as real HTTP upgrades (net.Pipe connections), with no port.
type pipeListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newPipeListener() *pipeListener {
	return &pipeListener{conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *pipeListener) Addr() net.Addr { return relayAddr{} }

// remoteKey is the context key of the relayed client's address ("ip:port").
type remoteKey struct{}

func (l *pipeListener) dialContext(ctx context.Context, _, _ string) (net.Conn, error) {
	a, b := net.Pipe()
	remote, _ := ctx.Value(remoteKey{}).(string)
	select {
	case l.conns <- relayConn{b, remote}:
		return a, nil
	case <-l.done:
		err := net.ErrClosed
		a.Close()
		b.Close()
		return nil, err
	case <-ctx.Done():
		a.Close()
		b.Close()
		return nil, ctx.Err()
	}
}

// relayAddr is the address of a relayed connection as the owner's Server sees it.
type relayAddr struct{}

func (relayAddr) Network() string { return "lifeline-relay" }
func (relayAddr) String() string  { return "lifeline-relay" }

// relayConn is the owner's end of a relayed WebSocket's pipe: its remote address is
// the client's, as the node that accepted it saw it.
type relayConn struct {
	net.Conn
	remote string
}

func (c relayConn) RemoteAddr() net.Addr {
	if c.remote == "" {
		return relayAddr{}
	}
	return clientAddr(c.remote)
}

func (relayConn) LocalAddr() net.Addr { return relayAddr{} }

type clientAddr string

func (clientAddr) Network() string  { return "tcp" }
func (a clientAddr) String() string { return string(a) }

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
