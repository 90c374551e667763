package server

import (
	"net/http"
	"time"

	"github.com/lifelinehq/lifeline/closecode"
	"github.com/lifelinehq/lifeline/internal/engine"
	"github.com/lifelinehq/lifeline/transport"
)

// servePoll serves GET poll: one held request answered with a batch
// (docs/protocol.md §1, §6). The first poll of a run (a new connection number) is
// answered at once with a hello. Between polls the session has no goroutine. A POST
// poll also carries a send body: the client's frames go in as a send's would, and the
// answer ends with the server's ack, so a client that has something to send when it
// polls makes one request instead of two (§5).
func (srv *Server) servePoll(w http.ResponseWriter, r *http.Request) {
	post := r.Method == http.MethodPost // (the endpoint takes GET and POST only)
	if post && r.Header.Get(transport.HeaderSession) == "" {
		srv.fail(w, r, closecode.Protocol, "a POST poll names its session")
		return
	}
	s, conn, ack, created, err := srv.sessionFromHeaders(r)
	if err != nil {
		srv.failErr(w, r, err)
		return
	}
	if !s.Hold(conn) {
		srv.fail(w, r, closecode.Superseded, "a poll is already pending")
		return
	}
	defer s.Release(conn)
	prev, prevConn := s.Transport(), s.LastConn()
	first := created || prev != namePoll || prevConn != conn
	// A later poll of the run that acknowledges nothing the run carried may be a
	// second copy of the run's first poll (an HTTP client or proxy retrying a GET
	// whose connection failed): it is greeted too, so whichever copy's answer
	// arrives opens the run (docs/protocol.md §5). It is held as any later poll.
	again := !first && ack == s.RunAck()
	l, received, err := srv.attach(s, namePoll, conn, ack, false, created)
	if err != nil {
		srv.failErr(w, r, err)
		return
	}
	defer l.Detach()

	o := &srv.opts
	var buf, scratch []byte
	if first || again {
		scratch = srv.hello(nil, s, received, created)
		buf = transport.AppendEvent(nil, scratch)
		srv.stats.out(0, len(buf))
	}
	held := 0 // what the response holds before it may be answered
	if again {
		held = len(buf)
	}
	var b *batch
	if post {
		b = srv.batches.Get().(*batch)
		defer b.release(srv)
		if code, reason := srv.readBatch(w, r, s, b); code != 0 {
			srv.fail(w, r, code, reason)
			return
		}
		// The ack goes first (a C, if any, must stay last); alone, it does not answer
		// the poll.
		n := len(buf)
		buf = b.appendAck(buf, s)
		srv.stats.out(0, len(buf)-n)
		if held == n {
			held = len(buf)
		}
	}
	buf, ok := srv.pollBatch(w, r, l, buf, scratch, held)
	if !ok {
		return
	}
	plainHeaders(w.Header())
	rc := http.NewResponseController(w)
	rc.SetWriteDeadline(time.Now().Add(o.Heartbeat + o.HeartbeatTimeout))
	w.Write(buf)
}

// pollBatch waits up to a heartbeat (shorter while the session is busy: PollHold) for
// something to send and appends it to buf (a hello, when the poll opens a run, is there
// already): a poll is answered at once when buf holds more than held bytes. It reports false when the request is answered
// already, or gone.
func (srv *Server) pollBatch(w http.ResponseWriter, r *http.Request, l *engine.Link, buf, scratch []byte, held int) ([]byte, bool) {
	o := &srv.opts
	var b engine.Batch
	var next uint64
	var timer *time.Timer
	var since time.Time // when the wait began
	for {
		l.Pull(&b, o.MaxBatchFrames-2, o.MaxBodyBytes/2, false)
		if b.Gone != nil {
			if len(buf) == held {
				// The session ended while this poll was held: it carries the end's
				// code, as the next poll would (a 4409 would have the client wait for
				// a newer connection that never comes).
				code, reason := goneCode(b.Gone)
				srv.fail(w, r, code, reason)
				return nil, false
			}
			break
		}
		if len(b.Msgs) > 0 || b.Close != nil || b.Ping {
			buf, scratch = srv.appendBatch(buf, scratch, &b, &next)
			if b.Close != nil {
				defer l.CloseSent()
			}
			break
		}
		if len(buf) > held {
			break
		}
		if timer == nil {
			since = time.Now()
			timer = time.NewTimer(l.Session().PollHold(o.Heartbeat, o.PollMinHold))
			defer timer.Stop()
		}
		select {
		case <-l.Wake():
			continue
		case <-l.Gone():
			continue
		case <-r.Context().Done():
			l.Session().PollCut(time.Since(since), o.PollMinHold)
			return nil, false
		case <-timer.C:
			buf = append(buf, engine.PingEvent...)
			srv.stats.out(0, len(engine.PingEvent))
			l.Session().PollAnswered(false)
			return buf, true
		}
	}
	// A hello alone counts as busy too: tabs opening together hold one poll each on a
	// browser's six connections per host, and a full hold after their hellos leaves
	// the seventh tab's waiting (TestLabTabs: tried on 2026-12-06, the eighth of eight
	// tabs took 15 s to open; with the short hold, under a second).
	l.Session().PollAnswered(true)
	return buf, true
}
