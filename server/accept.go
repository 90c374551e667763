package server

// The WebSocket transport, one file per step: accept.go accepts the connection and
// runs the create/resume handshake, read.go reads client frames, write.go runs the
// on-demand writer, watchdog.go keeps heartbeats and drops silent or stuck peers.

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/lifelinehq/lifeline/closecode"
	"github.com/lifelinehq/lifeline/internal/engine"
	"github.com/lifelinehq/lifeline/transport"
)

// handshakeLimit bounds the WebSocket messages read before a session is attached: an
// R frame with credentials.
const handshakeLimit = 16 << 10

// serveWebSocket serves GET ws: the client's R frame creates or resumes a session,
// then frames flow both ways (docs/protocol.md §3). The request's goroutine reads; the
// handler's Write writes on its own goroutine when nothing is queued, a writer
// goroutine drains a backlog (write.go); no lock is held across a network write.
func (srv *Server) serveWebSocket(w http.ResponseWriter, r *http.Request) {
	if !srv.conns.enter() {
		srv.fail(w, r, closecode.Shutdown, "server shutting down")
		return
	}
	defer srv.conns.leave()
	// The origin was checked by serve, for every transport alike.
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		InsecureSkipVerify: true,
		CompressionMode:    websocket.CompressionDisabled,
	})
	if err != nil {
		srv.log.Info("lifeline: websocket upgrade failed", "err", err, "remote", r.RemoteAddr)
		return
	}
	srv.serveConn(c, r)
}

// MessageConn is a connection of whole WebSocket messages. *websocket.Conn is one; a
// Router's relayed WebSocket, whose messages travel between nodes, is another. Its
// methods behave as *websocket.Conn's: Reader and Read return an error once the
// connection has ended (after Close or CloseNow, or when the other end went away);
// Write, Close and CloseNow are safe to call concurrently with the reads and with each
// other.
type MessageConn interface {
	engine.MessageReader
	engine.MessageWriter
	Read(ctx context.Context) (websocket.MessageType, []byte, error)
	Close(code websocket.StatusCode, reason string) error
	CloseNow() error
	SetReadLimit(n int64)
}

// ServeRelayedWebSocket serves c, a WebSocket that another node accepted and relays to
// this one, the owner of the session it names, exactly as the Server serves a
// WebSocket of its own: c's first message is the client's R frame. r is the upgrade
// request as that node received it (its Host, RemoteAddr and headers, for
// Options.Authenticate and admission); that node checked its Origin. It returns when
// the connection has ended. It is for Router implementations (package cluster).
func (srv *Server) ServeRelayedWebSocket(c MessageConn, r *http.Request) {
	if !srv.conns.enter() {
		c.Close(websocket.StatusCode(closecode.Shutdown), "server shutting down")
		return
	}
	defer srv.conns.leave()
	srv.serveConn(c, r)
}

// serveConn serves an accepted WebSocket, local or relayed, until it ends.
func (srv *Server) serveConn(c MessageConn, r *http.Request) {
	srv.conns.add(c)
	defer srv.conns.remove(c)
	defer c.CloseNow()

	wc := &wsConn{srv: srv, c: c, r: r}
	wc.w = engine.WSWriter{WS: c, Wrote: func(n int) { srv.stats.out(0, n) }}
	wc.serve()
}

type wsConn struct {
	srv *Server
	c   MessageConn
	r   *http.Request

	s       *engine.Session
	l       *engine.Link
	created bool   // s was created by this connection and is not confirmed yet
	again   []byte // a second R frame, to handle after the writer stopped
	relay   Relay  // the session is another node's: the connection is relayed

	ctx       context.Context // cancelled when the connection is done
	cancel    context.CancelFunc
	lastRead  atomic.Int64 // unix ns
	lastWrite atomic.Int64 // unix ns
	needPing  atomic.Bool
	goneTicks int // watchdog ticks since the link went; only watch uses it

	// The writer runs on demand (Link.OnWake, write.go); wmu orders its start against
	// stopWriter. Whoever holds the writer (running) owns batch and w.
	wmu     sync.Mutex
	stopped bool
	running atomic.Bool
	writers sync.WaitGroup
	quit    chan struct{}
	loop    func() // runs writeLoop for the current link and quit
	batch   engine.Batch
	w       engine.WSWriter
}

// closeWith closes the connection with code, logging refusals.
func (wc *wsConn) closeWith(code closecode.Code, reason string) {
	if code != closecode.Normal && code != closecode.Superseded && code != closecode.Shutdown {
		wc.srv.log.Info("lifeline: websocket closed", "code", code, "reason", reason, "remote", wc.r.RemoteAddr)
	}
	wc.c.Close(websocket.StatusCode(code), transport.Reason(reason))
}

func (wc *wsConn) serve() {
	o := &wc.srv.opts
	wc.ctx, wc.cancel = context.WithCancel(context.Background())
	defer wc.cancel()
	wc.c.SetReadLimit(handshakeLimit)
	// Not a child of wc.ctx: a cancelled child leaves its parent a children map, held
	// for the connection's life (CloseNow ends this read as it would end a child's).
	hctx, cancel := context.WithTimeout(context.Background(), o.HandshakeTimeout)
	typ, data, err := wc.c.Read(hctx)
	cancel()
	if err != nil {
		return
	}
	now := time.Now().UnixNano()
	wc.lastRead.Store(now)
	wc.lastWrite.Store(now)
	if code, reason := wc.handshake(typ, data); code != 0 {
		wc.closeWith(code, reason)
		return
	}
	if wc.relay != nil {
		wc.relay.ServeWebSocket(withUpgrade(wc.ctx, wc.r), wc.c, data) // another node owns the session
		return
	}
	watchdog := time.AfterFunc(o.Heartbeat/2, wc.watch)
	defer watchdog.Stop()
	for {
		wc.c.SetReadLimit(int64(max(o.MaxMessageBytes+1, handshakeLimit)))
		wc.startWriter(wc.l)
		code, reason := wc.readLoop()
		if wc.again == nil {
			if code != 0 {
				wc.closeWith(code, reason)
			}
			wc.cancel()
			wc.c.CloseNow()
			wc.stopWriter()
			wc.l.Detach()
			return
		}
		// A second R before confirmation (docs/protocol.md §3): stop the writer, drop
		// the session this connection created, and start over with the new R.
		wc.stopWriter()
		wc.l.Detach()
		wc.s.CloseNow(closecode.Superseded, "replaced by a second R")
		data, wc.again = wc.again, nil
		if code, reason := wc.handshake(websocket.MessageText, data); code != 0 {
			wc.closeWith(code, reason)
			return
		}
	}
}

// handshake processes an R frame: create or resume, attach, send H.
func (wc *wsConn) handshake(typ websocket.MessageType, data []byte) (closecode.Code, string) {
	srv := wc.srv
	if typ != websocket.MessageText {
		return closecode.Protocol, "first frame must be R"
	}
	f, err := transport.ParseFrame(data)
	if err != nil || f.Type != transport.FrameResume {
		return closecode.Protocol, "first frame must be R"
	}
	req, err := transport.DecodeResume(f.Data)
	if err != nil {
		return closecode.Protocol, err.Error()
	}
	created := req.SessionID == ""
	if !created {
		if rl := srv.opts.Router.Relay(req.SessionID); rl != nil {
			wc.relay = rl
			return 0, ""
		}
	}
	var s *engine.Session
	if created {
		s, err = srv.create(wc.r, req.Auth)
	} else if s, err = srv.find(req.SessionID, req.Token); err == nil {
		s, err = srv.resume(wc.r, s, req.Auth)
	}
	var l *engine.Link
	var received uint64
	if err == nil {
		l, received, err = srv.attach(s, nameWebSocket, req.Conn, req.Ack, true, created)
	}
	if err != nil {
		var rf *refusal
		if errors.As(err, &rf) {
			return rf.code, rf.reason
		}
		return closecode.Protocol, err.Error()
	}
	wc.wmu.Lock()
	wc.s, wc.l, wc.created = s, l, created
	wc.wmu.Unlock()
	hello := srv.hello(nil, s, received, created)
	srv.stats.out(0, len(hello))
	if err := wc.c.Write(wc.ctx, websocket.MessageText, hello); err != nil {
		l.Detach()
		return closecode.Normal, ""
	}
	return 0, ""
}
