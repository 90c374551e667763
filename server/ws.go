package server

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"net/http"

	"github.com/coder/websocket"

	"github.com/lifelinehq/lifeline/closecode"
	"github.com/lifelinehq/lifeline/internal/engine"
	"github.com/lifelinehq/lifeline/transport"
)

// handshakeLimit bounds the WebSocket messages read before a session is attached: an
// R frame with credentials.
const handshakeLimit = 16 << 10

// serveWebSocket serves GET ws: the client's R frame creates or resumes a session,
// then frames flow both ways (docs/protocol.md §3). The request's goroutine reads; a
// second goroutine writes, so no lock is held across a network write.
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
	srv.conns.add(c)
	defer srv.conns.remove(c)
	defer c.CloseNow()

	wc := &wsConn{srv: srv, c: c, r: r}
	wc.w = engine.WSWriter{WS: c, Wrote: func(n int) { srv.stats.out(0, n) }}
	wc.serve()
}

// writerLinger is how long an idle writer goroutine waits for more before it exits.
// While messages flow it stays; an idle connection parks no writer.
const writerLinger = time.Second

type wsConn struct {
	srv *Server
	c   *websocket.Conn
	r   *http.Request

	s       *engine.Session
	l       *engine.Link
	created bool   // s was created by this connection and is not confirmed yet
	again   []byte // a second R frame, to handle after the writer stopped

	ctx       context.Context // cancelled when the connection is done
	cancel    context.CancelFunc
	lastRead  atomic.Int64 // unix ns
	lastWrite atomic.Int64 // unix ns
	needPing  atomic.Bool
	goneTicks int // watchdog ticks since the link went; only watch uses it

	// The writer runs on demand (Link.OnWake); wmu orders its start against stopWriter.
	wmu     sync.Mutex
	stopped bool
	running atomic.Bool
	writers sync.WaitGroup
	quit    chan struct{}
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
	hctx, cancel := context.WithTimeout(wc.ctx, o.HandshakeTimeout)
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

// startWriter lets l's wake-ups run the writer.
func (wc *wsConn) startWriter(l *engine.Link) {
	wc.wmu.Lock()
	wc.stopped, wc.quit = false, make(chan struct{})
	wc.w.Reset()
	wc.running.Store(false)
	wc.wmu.Unlock()
	l.OnWake(func() { wc.kick(l) })
}

// kick starts the writer unless it is running or stopped. It is called from
// Link.OnWake and the watchdog.
func (wc *wsConn) kick(l *engine.Link) {
	if wc.running.Load() {
		return
	}
	wc.wmu.Lock()
	if !wc.stopped && wc.running.CompareAndSwap(false, true) {
		wc.writers.Add(1)
		go wc.writeLoop(l, wc.quit)
	}
	wc.wmu.Unlock()
}

// stopWriter stops the writer and waits for it.
func (wc *wsConn) stopWriter() {
	wc.wmu.Lock()
	wc.stopped = true
	close(wc.quit)
	wc.wmu.Unlock()
	wc.writers.Wait()
}

// watch runs every half heartbeat: it asks for a heartbeat on a connection the server
// has been silent on, and drops one the client has been silent on for
// Heartbeat+HeartbeatTimeout (docs/protocol.md §6).
func (wc *wsConn) watch() {
	o := &wc.srv.opts
	if wc.ctx.Err() != nil {
		return
	}
	now := time.Now()
	if now.Sub(time.Unix(0, wc.lastRead.Load())) > o.Heartbeat+o.HeartbeatTimeout {
		wc.closeWith(closecode.Timeout, "heartbeat timeout")
		wc.cancel()
		wc.c.CloseNow()
		return
	}
	wc.wmu.Lock()
	l := wc.l
	wc.wmu.Unlock()
	// A connection whose link is gone (superseded, or its session ended) is closed by
	// its writer within moments; if it is still open two ticks later, the writer is
	// stuck on a peer that stopped reading: close it here.
	if select1(l.Session().Done()) || !l.Attached() {
		if wc.goneTicks++; wc.goneTicks >= 2 {
			wc.srv.log.Info("lifeline: websocket writer stalled after its session moved or ended", "remote", wc.r.RemoteAddr)
			wc.cancel()
			wc.c.CloseNow()
			return
		}
	} else {
		wc.goneTicks = 0
	}
	if now.Sub(time.Unix(0, wc.lastWrite.Load())) >= o.Heartbeat/2 {
		wc.needPing.Store(true)
		l.Poke()
	}
	time.AfterFunc(o.Heartbeat/2, wc.watch)
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

// readLoop reads client frames until the connection ends. It returns the close code
// to send, or 0; or it sets wc.again and returns for a second R.
func (wc *wsConn) readLoop() (closecode.Code, string) {
	srv := wc.srv
	in := engine.NewInbound(wc.s)
	in.Deliver = func(_ context.Context, seq uint64, m engine.Message) (bool, error) {
		return wc.s.Deliver(wc.ctx, seq, m, true)
	}
	pre := func(typ websocket.MessageType, f *transport.Frame, raw []byte) (bool, error) {
		wc.lastRead.Store(time.Now().UnixNano())
		srv.stats.in(0, len(raw))
		if typ == websocket.MessageText && f.Type == transport.FrameResume {
			if !wc.created {
				return true, engine.Protocolf("R after confirmation")
			}
			wc.again = raw
			return true, errAgain
		}
		if wc.created {
			wc.created = false
			srv.confirm(wc.s)
		}
		return false, nil
	}
	// CloseNow ends the read; a cancellable ctx would cost an AfterFunc per read.
	err := engine.ReadWebSocket(context.Background(), wc.c, in, pre, func() { srv.stats.in(1, 0) })
	var pe *engine.ProtocolError
	var pc *engine.PeerClose
	switch {
	case errors.Is(err, errAgain):
		return 0, ""
	case errors.As(err, &pc):
		wc.s.PeerClosed(pc.Code, pc.Reason)
		return closecode.Normal, ""
	case errors.As(err, &pe):
		return closecode.Protocol, pe.Reason
	}
	return deliverRefusal(err) // 0 for a read error: the connection just ended
}

// errAgain ends the read loop for a second R frame.
var errAgain = errors.New("lifeline: a second R")

// writeLoop sends what the link has to send. It exits after writerLinger without
// work, and for good when the link or the connection ends.
func (wc *wsConn) writeLoop(l *engine.Link, quit chan struct{}) {
	defer wc.writers.Done()
	w := &wc.w
	var b engine.Batch
	var linger *time.Timer
	carried := false // messages or acks went out: linger for more
	defer func() {
		if linger != nil {
			linger.Stop()
		}
	}()
	for {
		select {
		case <-l.Wake():
		default:
		}
		ping := wc.needPing.Swap(false)
		l.Pull(&b, 64, 256<<10, ping)
		if b.Gone != nil {
			if errors.Is(b.Gone, engine.ErrSuperseded) {
				wc.closeWith(closecode.Superseded, "connection superseded")
				wc.cancel()
			}
			return
		}
		sent, err := w.Write(context.Background(), &b, ping) // the watchdog bounds it
		if err != nil {
			wc.cancel()
			wc.c.CloseNow()
			return
		}
		if len(b.Msgs) > 0 {
			wc.srv.stats.out(len(b.Msgs), 0)
		}
		if b.Close != nil {
			wc.closeWith(b.Close.Code, b.Close.Reason)
			l.CloseSent()
			wc.cancel()
			return
		}
		if sent {
			wc.lastWrite.Store(time.Now().UnixNano())
			carried = carried || len(b.Msgs) > 0 || b.HasAck
			continue
		}
		if !carried {
			// Woken for a heartbeat only: an idle connection's writer does not linger.
			wc.running.Store(false)
			if len(l.Wake()) == 0 || !wc.running.CompareAndSwap(false, true) {
				return
			}
			continue
		}
		if linger == nil {
			linger = time.NewTimer(writerLinger)
		} else {
			linger.Reset(writerLinger)
		}
		select {
		case <-l.Wake():
		case <-quit:
			return
		case <-linger.C:
			wc.running.Store(false)
			// A wake-up that came after the last Pull left its token: carry on.
			if len(l.Wake()) == 0 || !wc.running.CompareAndSwap(false, true) {
				return
			}
		}
	}
}

// select1 reports whether ch is closed (or ready), without blocking.
func select1(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
