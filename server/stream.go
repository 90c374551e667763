package server

import (
	"net/http"
	"time"

	"github.com/lifelinehq/lifeline/closecode"
	"github.com/lifelinehq/lifeline/internal/engine"
	"github.com/lifelinehq/lifeline/transport"
)

// streamNudge is how long after its last write a stream whose data is not yet
// acknowledged sends a P, doubling after each (docs/protocol.md §6).
const streamNudge = 250 * time.Millisecond

// serveStream serves GET stream: a text/event-stream response carrying the session's
// frames, flushed one batch at a time, ended after StreamBytes (docs/protocol.md §6).
func (srv *Server) serveStream(w http.ResponseWriter, r *http.Request) {
	s, conn, ack, created, err := srv.sessionFromHeaders(r)
	if err != nil {
		srv.failErr(w, r, err)
		return
	}
	l, received, err := srv.attach(s, nameStream, conn, ack, false, created)
	if err != nil {
		srv.failErr(w, r, err)
		return
	}
	defer l.Detach()

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache, no-transform")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	o := &srv.opts
	deadline := o.Heartbeat + o.HeartbeatTimeout

	scratch := srv.hello(nil, s, received, created)
	buf := transport.AppendEvent(nil, scratch)
	srv.stats.out(0, len(buf))
	sent := 0
	write := func() bool {
		rc.SetWriteDeadline(time.Now().Add(deadline))
		_, err := w.Write(buf)
		if err == nil {
			err = rc.Flush()
		}
		sent += len(buf)
		return err == nil
	}
	if !write() {
		return
	}

	hb := time.NewTimer(o.Heartbeat)
	defer hb.Stop()
	// A buffering proxy can hold the tail of a burst until more data reaches it
	// (nginx with proxy_buffering on does); the nudges push it through.
	nudge := time.NewTimer(streamNudge)
	defer nudge.Stop()
	nudgeEvery := time.Duration(0) // zero: no nudge due
	ping := func() bool {
		buf = append(buf[:0], engine.PingEvent...)
		srv.stats.out(0, len(buf))
		return write()
	}
	var b engine.Batch
	var next uint64
	for {
		// A batch stays within what the response may still carry (at least one
		// message goes): a stream ends within one message of StreamBytes.
		l.Pull(&b, 256, min(64<<10, o.StreamBytes-sent), false)
		if b.Gone != nil {
			// Unlike a recycle, which ends the body without a frame: the client must
			// not reopen the stream over the connection that took over, nor for a
			// session that ended.
			code, reason := goneCode(b.Gone)
			buf = transport.AppendEvent(buf[:0], transport.AppendClose(scratch[:0], code, reason))
			write()
			return
		}
		if len(b.Msgs) > 0 || b.Close != nil || b.Ping {
			buf, scratch = srv.appendBatch(buf[:0], scratch, &b, &next)
			if !write() {
				return
			}
			if b.Close != nil {
				l.CloseSent()
				return
			}
			if sent >= o.StreamBytes {
				return // the client reopens at once
			}
			hb.Reset(o.Heartbeat)
			nudgeEvery = streamNudge
			nudge.Reset(nudgeEvery)
			continue
		}
		select {
		case <-l.Wake():
		case <-l.Gone():
		case <-r.Context().Done():
			return
		case <-hb.C:
			if time.Since(s.Heard()) > deadline {
				srv.log.Info("lifeline: stream client silent", "session", s.ID(), "code", closecode.Timeout)
				return
			}
			if !ping() {
				return
			}
			hb.Reset(o.Heartbeat)
		case <-nudge.C:
			if nudgeEvery == 0 || s.Unacked() == 0 {
				nudgeEvery = 0
				continue
			}
			if !ping() {
				return
			}
			if nudgeEvery *= 2; nudgeEvery < o.Heartbeat {
				nudge.Reset(nudgeEvery)
			}
		}
	}
}
