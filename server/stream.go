package server

import (
	"math/rand/v2"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/lifelinehq/lifeline/closecode"
	"github.com/lifelinehq/lifeline/internal/engine"
	"github.com/lifelinehq/lifeline/transport"
)

// streamNudge is how long after its last write a stream whose data is not yet
// acknowledged sends a nudge, doubling after each (docs/protocol.md §6).
const streamNudge = 250 * time.Millisecond

// nudgeEvent is a nudge: an event-stream comment line. A buffering proxy passes it on
// like any bytes, pushing out the tail it held; clients ignore it. Unlike a P it asks
// for no ack: the client acks on its own schedule (AckDelay, AckEvery), never one send
// request per message.
var nudgeEvent = []byte(":\n")

// streamProbes is how many data writes of one stream may carry a probe: a P after the
// data, in the same write, which the client answers with an ack at once. An ack that
// comes before any nudge was written shows that nothing on the way holds the tail of a
// write: the stream nudges no more. (A client acks on its own schedule, seconds later,
// after the nudges began; without a probe no stream would ever be shown prompt.) A
// write probes with a chance of one in streamProbeOdds, so that the streams of one
// broadcast do not all answer the same one: their acks are spread over several.
const streamProbes = 3

var streamProbeOdds atomic.Int32 // 4; the tests set 1

func init() { streamProbeOdds.Store(4) }

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
	o := &srv.opts
	st := &stream{srv: srv, w: w, rc: http.NewResponseController(w), s: s, l: l,
		deadline: o.Heartbeat + o.HeartbeatTimeout}
	st.scratch = srv.hello(nil, s, received, created)
	st.buf = transport.AppendEvent(nil, st.scratch)
	srv.stats.out(0, len(st.buf))
	if st.write() {
		st.run(r)
	}
}

// stream is one stream response.
type stream struct {
	srv      *Server
	w        http.ResponseWriter
	rc       *http.ResponseController
	s        *engine.Session
	l        *engine.Link
	deadline time.Duration // a write that takes this long ends the stream
	buf      []byte        // the next write
	scratch  []byte
	sent     int // bytes written
}

// write writes and flushes st.buf.
func (st *stream) write() bool {
	st.rc.SetWriteDeadline(time.Now().Add(st.deadline))
	_, err := st.w.Write(st.buf)
	if err == nil {
		err = st.rc.Flush()
	}
	st.sent += len(st.buf)
	return err == nil
}

// nudge writes a nudge (nudgeEvent).
func (st *stream) nudge() bool {
	st.buf = append(st.buf[:0], nudgeEvent...)
	st.srv.stats.out(0, len(st.buf))
	return st.write()
}

// ping writes a P frame.
func (st *stream) ping() bool {
	st.buf = append(st.buf[:0], engine.PingEvent...)
	st.srv.stats.out(0, len(st.buf))
	return st.write()
}

// run writes batches as the link hands them out, heartbeats while it is quiet, and
// nudges while data goes unacknowledged, until the stream has carried StreamBytes, the
// link goes, or the client leaves.
func (st *stream) run(r *http.Request) {
	o := &st.srv.opts
	hb := time.NewTimer(o.Heartbeat)
	defer hb.Stop()
	// A buffering proxy can hold the tail of a burst until more data reaches it
	// (nginx with proxy_buffering on does); the nudges push it through. Once the
	// client has acknowledged a write with nothing written after it (nothing pushed
	// it), no proxy on the way holds tails: this stream nudges no more.
	nudge := time.NewTimer(streamNudge)
	defer nudge.Stop()
	nudgeEvery := time.Duration(0) // zero: no nudge due
	pushed := false                // bytes went out after the last data write
	prompt := false                // the client was shown to receive without a push
	probes := 0                    // data writes that carried a probe
	var b engine.Batch
	var next uint64
	for {
		// A batch stays within what the response may still carry (at least one
		// message goes): a stream ends within one message of StreamBytes.
		st.l.Pull(&b, 256, min(64<<10, o.StreamBytes-st.sent), false)
		if b.Gone != nil {
			st.gone(b.Gone)
			return
		}
		if !b.Empty() {
			if !prompt && probes < streamProbes && len(b.Msgs) > 0 && !b.Ping && b.Close == nil &&
				rand.N(streamProbeOdds.Load()) == 0 {
				b.Ping = true // the probe: a P after the messages, in the same write
				probes++
			}
			st.buf, st.scratch = st.srv.appendBatch(st.buf[:0], st.scratch, &b, &next)
			if !st.write() {
				return
			}
			if b.Close != nil {
				st.l.CloseSent()
				return
			}
			if st.sent >= o.StreamBytes {
				return // the client reopens at once
			}
			hb.Reset(o.Heartbeat)
			if pushed = false; !prompt {
				nudgeEvery = streamNudge
				nudge.Reset(nudgeEvery)
			}
			continue
		}
		select {
		case <-st.l.Wake():
		case <-st.l.Gone():
		case <-r.Context().Done():
			return
		case <-hb.C:
			if !st.heartbeat() {
				return
			}
			pushed = true
			hb.Reset(o.Heartbeat)
		case <-nudge.C:
			if nudgeEvery == 0 {
				continue
			}
			if st.s.Unacked() == 0 {
				prompt = prompt || !pushed
				nudgeEvery = 0
				continue
			}
			if !st.nudge() {
				return
			}
			pushed = true
			if nudgeEvery *= 2; nudgeEvery < o.Heartbeat {
				nudge.Reset(nudgeEvery)
			}
		}
	}
}

// gone ends a stream whose link went with a C frame. Unlike a recycle, which ends the
// body without a frame, the client must not reopen the stream over the connection
// that took over, nor for a session that ended.
func (st *stream) gone(why error) {
	code, reason := goneCode(why)
	st.buf = transport.AppendEvent(st.buf[:0], transport.AppendClose(st.scratch[:0], code, reason))
	st.write()
}

// heartbeat sends a P, or reports false for a client silent past the deadline.
func (st *stream) heartbeat() bool {
	if time.Since(st.s.Heard()) > st.deadline {
		st.srv.log.Info("lifeline: stream client silent", "session", st.s.ID(), "code", closecode.Timeout)
		return false
	}
	return st.ping()
}
