package server

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/lifelinehq/lifeline/closecode"
	"github.com/lifelinehq/lifeline/internal/engine"
	"github.com/lifelinehq/lifeline/session"
	"github.com/lifelinehq/lifeline/transport"
)

// serveSend serves POST send: a batch of client frames for the HTTP transports. The
// response carries the server's cumulative ack (docs/protocol.md §5).
func (srv *Server) serveSend(w http.ResponseWriter, r *http.Request) {
	id, token := r.Header.Get(transport.HeaderSession), r.Header.Get(transport.HeaderToken)
	if id == "" || token == "" {
		srv.fail(w, r, closecode.Protocol, "send needs the session and token headers")
		return
	}
	s, err := srv.find(id, token)
	if err != nil {
		srv.failErr(w, r, err)
		return
	}
	srv.confirm(s)
	s.Touch()
	b := srv.batches.Get().(*batch)
	defer b.release(srv)
	code, reason := srv.readBatch(w, r, s, b)
	if code != 0 {
		srv.fail(w, r, code, reason)
		return
	}
	plainHeaders(w.Header())
	b.out = b.appendAck(b.out[:0], s)
	w.Write(b.out)
}

// appendAck appends the A frame of s's cumulative ack to dst, built in b's scratch: a
// send response's only frame, a POST poll answer's first.
func (b *batch) appendAck(dst []byte, s *engine.Session) []byte {
	b.scratch = transport.AppendNum(b.scratch[:0], transport.FrameAck, s.Received())
	return transport.AppendEvent(dst, b.scratch)
}

// batch is what one send request needs besides its body, pooled (Server.batches): the
// send path allocates little beyond what net/http does.
type batch struct {
	rd      *transport.Reader
	in      engine.Inbound // its Deliver is b.deliver, bound once
	r       *http.Request
	wait    time.Duration   // how long a full queue may hold the request: a heartbeat
	ctx     context.Context // r's context with the wait as its timeout, made only when needed
	cancel  context.CancelFunc
	out     []byte // the response
	scratch []byte
}

func newBatch(maxFrame int) *batch {
	b := &batch{rd: transport.NewReader(nil, maxFrame)}
	b.in.Deliver = b.deliver
	return b
}

// deliver hands a message to the session: a full inbound queue holds the request
// (backpressure) for at most a heartbeat.
func (b *batch) deliver(_ context.Context, seq uint64, m engine.Message) (bool, error) {
	ok, err := b.in.S.Deliver(b.r.Context(), seq, m, false)
	if err != session.ErrQueueFull {
		return ok, err
	}
	if b.ctx == nil {
		b.ctx, b.cancel = context.WithTimeout(b.r.Context(), b.wait)
	}
	return b.in.S.Deliver(b.ctx, seq, m, true)
}

func (b *batch) release(srv *Server) {
	if b.cancel != nil {
		b.cancel()
	}
	b.rd.Reset(nil)
	b.in.S, b.r, b.ctx, b.cancel = nil, nil, nil, nil
	if cap(b.out) > 1<<10 {
		b.out = nil
	}
	srv.batches.Put(b)
}

// readBatch takes the frames of a send body into s. It returns the close code and
// reason that refuse the batch, or 0: a full inbound queue holds the POST
// (backpressure) for at most a heartbeat, and what did not fit is simply not
// acknowledged (the client sends it again).
func (srv *Server) readBatch(w http.ResponseWriter, r *http.Request, s *engine.Session, b *batch) (closecode.Code, string) {
	o := &srv.opts
	b.rd.Reset(http.MaxBytesReader(w, r.Body, int64(o.MaxBodyBytes)))
	b.in.Reset(s)
	b.r, b.wait = r, o.Heartbeat
	frames, msgs, size := 0, 0, 0
	var code closecode.Code
	reason := ""
	for code == 0 {
		f, err := b.rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) || errors.Is(err, transport.ErrTooLarge) {
				code, reason = closecode.TooLarge, err.Error()
			} else {
				code, reason = closecode.Protocol, err.Error()
			}
			continue
		}
		if frames++; frames > o.MaxBatchFrames {
			code, reason = closecode.TooLarge, "too many frames in one batch"
			continue
		}
		if f.Type == transport.FrameText {
			f.Data = bytes.Clone(f.Data) // the reader reuses its buffer
		}
		ok, err := b.in.Frame(r.Context(), f)
		if err != nil {
			code, reason = srv.batchRefusal(s, err)
			continue
		}
		if ok {
			msgs++
			size += len(f.Data) + 1
		}
	}
	srv.stats.in(msgs, size)
	return max(code, 0), reason
}

// batchRefusal maps an error of a send's frame to the close code and reason that
// refuse the batch, -1 when the queue stayed full (the rest is not acknowledged), or
// 0 for a C frame, which closes s.
func (srv *Server) batchRefusal(s *engine.Session, err error) (closecode.Code, string) {
	var pc *engine.PeerClose
	var pe *engine.ProtocolError
	switch {
	case errors.As(err, &pc):
		s.PeerClosed(pc.Code, pc.Reason)
		return 0, "" // the batch goes on: the frames after it find the session closed
	case errors.As(err, &pe):
		return closecode.Protocol, pe.Reason
	}
	if code, reason := deliverRefusal(err); code != 0 {
		return code, reason
	}
	return -1, ""
}

// deliverRefusal maps a Deliver error to a close code. A full queue that outlasted the
// wait is not an error: the batch's remainder is simply not acknowledged.
func deliverRefusal(err error) (closecode.Code, string) {
	switch {
	case errors.Is(err, session.ErrTooLarge):
		return closecode.TooLarge, "message too large"
	case errors.Is(err, engine.ErrProtocol):
		return closecode.Protocol, "sequence gap"
	case errors.Is(err, session.ErrClosed):
		return closecode.Expired, "session ended"
	}
	return 0, ""
}
