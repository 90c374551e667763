package server

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"

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
	code, reason := srv.readBatch(w, r, s)
	if code != 0 {
		srv.fail(w, r, code, reason)
		return
	}
	plainHeaders(w.Header())
	w.Write(transport.AppendEvent(nil, transport.AppendNum(nil, transport.FrameAck, s.Received())))
}

// readBatch takes the frames of a send body into s. It returns the close code and
// reason that refuse the batch, or 0: a full inbound queue holds the POST
// (backpressure) for at most a heartbeat, and what did not fit is simply not
// acknowledged (the client sends it again).
func (srv *Server) readBatch(w http.ResponseWriter, r *http.Request, s *engine.Session) (closecode.Code, string) {
	o := &srv.opts
	body := http.MaxBytesReader(w, r.Body, int64(o.MaxBodyBytes))
	rd := srv.readers.Get().(*transport.Reader)
	rd.Reset(body)
	defer func() {
		rd.Reset(nil)
		srv.readers.Put(rd)
	}()
	// The timeout is made only when needed.
	var ctx context.Context
	cancel := context.CancelFunc(func() {})
	defer func() { cancel() }()
	deliver := func(_ context.Context, seq uint64, m engine.Message) (bool, error) {
		ok, err := s.Deliver(r.Context(), seq, m, false)
		if err != session.ErrQueueFull {
			return ok, err
		}
		if ctx == nil {
			ctx, cancel = context.WithTimeout(r.Context(), o.Heartbeat)
		}
		return s.Deliver(ctx, seq, m, true)
	}
	in := engine.NewInbound(s)
	in.Deliver = deliver
	frames, msgs, size := 0, 0, 0
	var code closecode.Code
	reason := ""
	for code == 0 {
		f, err := rd.Next()
		if err == io.EOF {
			break
		}
		var mbe *http.MaxBytesError
		switch {
		case errors.As(err, &mbe), errors.Is(err, transport.ErrTooLarge):
			code, reason = closecode.TooLarge, err.Error()
			continue
		case err != nil:
			code, reason = closecode.Protocol, err.Error()
			continue
		}
		if frames++; frames > o.MaxBatchFrames {
			code, reason = closecode.TooLarge, "too many frames in one batch"
			continue
		}
		if f.Type == transport.FrameText {
			f.Data = bytes.Clone(f.Data) // the reader reuses its buffer
		}
		ok, err := in.Frame(r.Context(), f)
		var pc *engine.PeerClose
		var pe *engine.ProtocolError
		switch {
		case errors.As(err, &pc):
			s.PeerClosed(pc.Code, pc.Reason)
		case errors.As(err, &pe):
			code, reason = closecode.Protocol, pe.Reason
		case err != nil:
			code, reason = deliverRefusal(err)
			if code == 0 {
				code = -1 // the queue stayed full: the rest is not acknowledged
			}
		case ok:
			msgs++
			size += len(f.Data) + 1
		}
	}
	srv.stats.in(msgs, size)
	return max(code, 0), reason
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
