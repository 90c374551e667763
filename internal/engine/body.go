package engine

import (
	"github.com/lifelinehq/lifeline/session"
	"github.com/lifelinehq/lifeline/transport"
)

// AppendBatch appends b's frames to an HTTP body (docs/protocol.md §2), for either
// direction: an S frame when the first message's number is not *next, the messages,
// the ack, a P, then the close. It updates *next. scratch is reused for each frame and
// returned.
func AppendBatch(dst, scratch []byte, b *Batch, next *uint64) ([]byte, []byte) {
	if len(b.Msgs) > 0 && b.Seq != *next {
		scratch = transport.AppendNum(scratch[:0], transport.FrameSeq, b.Seq)
		dst = transport.AppendEvent(dst, scratch)
	}
	for _, m := range b.Msgs {
		switch m.Type {
		case session.Binary:
			scratch = transport.AppendBinary(scratch[:0], m.Data)
		case typeCall:
			dst = transport.AppendEvent(dst, m.Data) // the frame's whole text
			continue
		default:
			scratch = transport.AppendText(scratch[:0], m.Data)
		}
		dst = transport.AppendEvent(dst, scratch)
	}
	if len(b.Msgs) > 0 {
		*next = b.Seq + uint64(len(b.Msgs))
	}
	if b.HasAck {
		scratch = transport.AppendNum(scratch[:0], transport.FrameAck, b.Ack)
		dst = transport.AppendEvent(dst, scratch)
	}
	if b.Ping {
		dst = append(dst, PingEvent...)
	}
	if b.Close != nil {
		scratch = transport.AppendClose(scratch[:0], b.Close.Code, b.Close.Reason)
		dst = transport.AppendEvent(dst, scratch)
	}
	return dst, scratch
}

// PingEvent is a P frame as a body event.
var PingEvent = transport.AppendEvent(nil, []byte{transport.FramePing})

// Empty reports whether b carries nothing to send.
func (b *Batch) Empty() bool {
	return len(b.Msgs) == 0 && !b.HasAck && !b.Ping && b.Close == nil
}

// Default sets *p to v when it is zero or less: an option's default.
func Default[T ~int | ~int64](p *T, v T) {
	if *p <= 0 {
		*p = v
	}
}
