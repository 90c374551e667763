package server

import (
	"errors"

	"github.com/lifelinehq/lifeline/closecode"
	"github.com/lifelinehq/lifeline/internal/engine"
	"github.com/lifelinehq/lifeline/session"
	"github.com/lifelinehq/lifeline/transport"
)

// appendBatch appends b's frames as HTTP body events (docs/protocol.md §2): an S frame
// when the first message's number is not *next, the messages, then a close frame. It
// updates *next and the counters.
func (srv *Server) appendBatch(dst, scratch []byte, b *engine.Batch, next *uint64) ([]byte, []byte) {
	start := len(dst)
	if len(b.Msgs) > 0 && b.Seq != *next {
		scratch = transport.AppendNum(scratch[:0], transport.FrameSeq, b.Seq)
		dst = transport.AppendEvent(dst, scratch)
	}
	for _, m := range b.Msgs {
		if m.Type == session.Binary {
			scratch = transport.AppendBinary(scratch[:0], m.Data)
		} else {
			scratch = transport.AppendText(scratch[:0], m.Data)
		}
		dst = transport.AppendEvent(dst, scratch)
	}
	*next = b.Seq + uint64(len(b.Msgs))
	if b.Ping {
		dst = append(dst, pingEvent...)
	}
	if b.Close != nil {
		scratch = transport.AppendClose(scratch[:0], b.Close.Code, b.Close.Reason)
		dst = transport.AppendEvent(dst, scratch)
	}
	srv.stats.out(len(b.Msgs), len(dst)-start)
	return dst, scratch
}

// pingEvent is a heartbeat as a body event.
var pingEvent = transport.AppendEvent(nil, []byte{transport.FramePing})

// goneCode is the close code and reason for a link's Gone: 4409 when a newer
// connection took the session over, else the code the session ended with.
func goneCode(gone error) (closecode.Code, string) {
	var ce *session.CloseError
	if errors.As(gone, &ce) {
		return ce.Code, ce.Reason
	}
	return closecode.Superseded, "connection superseded"
}
