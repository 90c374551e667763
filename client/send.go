package client

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

// uplink carries the client's frames on the HTTP transports: POST send, one request
// at a time (concurrent POSTs could arrive out of order), each at most the hello's
// batch frames and body bytes. It keeps every message it sent until the server
// acknowledges it in a response, and sends the unacknowledged ones again after a
// failure or a partial ack (the server drops duplicates). Not safe for concurrent use.
type uplink struct {
	c          *Conn
	g          *gen
	l          *engine.Link
	sid, token string
	hb         time.Duration // a heartbeat after this long idle; 0: none (polls are heard)
	timeout    time.Duration // per POST
	maxFrames  int
	maxBody    int

	pending []engine.Message // sent or about to be, not acknowledged; pending[0] is number first
	first   uint64
	ack     uint64 // the ack to send, while ackDue
	ackDue  bool
	close   *session.CloseError // the close to send, once pulled
	b       engine.Batch
	bo      backoff
}

func newUplink(h *httpConn, l *engine.Link) *uplink {
	u := &uplink{
		c: h.c, g: h.g, l: l, sid: h.sid(), token: h.token(),
		timeout: deadline(h.hello), maxFrames: h.hello.MaxBatch, maxBody: h.hello.MaxBody,
		bo: backoff{min: h.c.opts.BackoffMin, max: h.c.opts.BackoffMax},
	}
	if h.name == nameStream {
		u.hb = heartbeat(h.hello)
	}
	if u.maxFrames < 4 {
		u.maxFrames = 100
	}
	if u.maxBody < 1024 {
		u.maxBody = 1 << 20
	}
	return u
}

// run sends until ctx ends, the link goes, the close went out (errClosed) or finish
// closes (nil; a POST under way completes first).
func (u *uplink) run(ctx context.Context, finish <-chan struct{}) error {
	var beat <-chan time.Time
	var t *time.Timer
	if u.hb > 0 {
		t = time.NewTimer(u.hb)
		defer t.Stop()
		beat = t.C
	}
	idle := false
	for {
		body, err := u.build(idle)
		idle = false
		if err != nil {
			return err
		}
		if body == nil {
			select {
			case <-u.l.Wake():
			case <-beat:
				idle = true
			case <-ctx.Done():
				return context.Cause(ctx)
			case <-finish:
				return nil
			}
			continue
		}
		before := u.first
		err = u.send(ctx, body)
		if t != nil {
			t.Reset(u.hb) // the server heard from the client: no heartbeat due
		}
		var wait time.Duration
		switch {
		case err != nil:
			if code, _ := closeCode(err); code != 0 || ctx.Err() != nil {
				return err
			}
			u.c.log.Debug("lifeline: send failed, retrying", "err", err)
			wait = u.bo.next() // then send everything unacknowledged again
		case u.close != nil && len(u.pending) == 0:
			u.l.CloseSent()
			return errClosed
		case len(u.pending) > 0 && u.first == before:
			wait = u.bo.next() // the server took nothing (its queue is full): do not hammer it
		default:
			u.bo.reset()
		}
		if !sleep(ctx, wait, finish) {
			return context.Cause(ctx)
		}
		select {
		case <-finish:
			return nil // the next connection sends the rest
		default:
		}
	}
}

// build returns the next body: the unacknowledged messages, then new ones from the
// link, as many as fit; an ack when due; the close when pulled; a heartbeat when idle
// and there is nothing else. nil means nothing to send.
func (u *uplink) build(idle bool) ([]byte, error) {
	var body, frame []byte
	frames, msgs := 0, 0
	var next uint64                             // the number a data frame has without an S frame
	room, limit := u.maxFrames-2, u.maxBody-256 // keep room for A and C
	add := func(seq uint64, m engine.Message) bool {
		mark, marked := len(body), frames
		if seq != next {
			frame = transport.AppendNum(frame[:0], transport.FrameSeq, seq)
			body = transport.AppendEvent(body, frame)
			frames++
		}
		if m.Type == session.Binary {
			frame = transport.AppendBinary(frame[:0], m.Data)
		} else {
			frame = transport.AppendText(frame[:0], m.Data)
		}
		body = transport.AppendEvent(body, frame)
		frames++
		if msgs > 0 && (frames > room || len(body) > limit) {
			body, frames = body[:mark], marked
			return false
		}
		msgs++
		next = seq + 1
		return true
	}
	fits := true
	for i, m := range u.pending {
		if fits = add(u.first+uint64(i), m); !fits {
			break
		}
	}
	for pulls := 0; fits && u.close == nil; pulls++ {
		u.l.Pull(&u.b, 1, 0, idle && pulls == 0)
		if u.b.Gone != nil {
			return nil, errGone
		}
		if u.b.HasAck {
			u.ack, u.ackDue = u.b.Ack, true
		}
		if u.b.Close != nil {
			u.close = u.b.Close
		}
		if len(u.b.Msgs) == 0 {
			break
		}
		if len(u.pending) == 0 {
			u.first = u.b.Seq
		}
		u.pending = append(u.pending, u.b.Msgs[0])
		fits = add(u.b.Seq, u.b.Msgs[0])
	}
	if u.ackDue {
		body = transport.AppendEvent(body, transport.AppendNum(frame[:0], transport.FrameAck, u.ack))
	}
	if u.close != nil && len(u.pending) == 0 {
		body = transport.AppendEvent(body, transport.AppendClose(frame[:0], u.close.Code, u.close.Reason))
	}
	if len(body) == 0 && idle && u.hb > 0 {
		body = transport.AppendEvent(body, []byte{transport.FramePing})
	}
	if len(body) == 0 {
		return nil, nil
	}
	return body, nil
}

// send POSTs body and releases what the server's ack covers.
func (u *uplink) send(ctx context.Context, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, u.timeout)
	defer cancel()
	ack, err := u.c.post(ctx, u.g, u.sid, u.token, body)
	if err != nil {
		return err
	}
	u.ackDue = false
	u.trim(ack)
	return nil
}

// trim releases the sent messages that the server's ack covers.
func (u *uplink) trim(ack uint64) {
	if ack < u.first || len(u.pending) == 0 {
		return
	}
	k := int(min(ack-u.first+1, uint64(len(u.pending))))
	clear(u.pending[:k])
	u.pending = u.pending[k:]
	u.first += uint64(k)
	if len(u.pending) == 0 {
		u.pending = nil
	}
}

// post sends one body to the send endpoint and processes the response: the server's
// cumulative ack (returned) or a close code (a *session.CloseError).
func (c *Conn) post(ctx context.Context, g *gen, sid, token string, body []byte) (uint64, error) {
	req := c.request(ctx, http.MethodPost, "send", bytes.NewReader(body))
	req.Header.Set(transport.HeaderSession, sid)
	req.Header.Set(transport.HeaderToken, token)
	req.Header.Set("Content-Type", "text/plain;charset=utf-8")
	resp, err := c.do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	c.stats.bytesOut.Add(uint64(len(body)))
	rd := transport.NewReader(resp.Body, 1024)
	var ack uint64
	for {
		f, err := rd.Next()
		if err == io.EOF {
			return ack, nil
		}
		if err != nil {
			return 0, err
		}
		switch f.Type {
		case transport.FrameAck:
			if err := g.ack(f.Num); err != nil {
				return 0, protoErrorf("ack %d of a message never sent", f.Num)
			}
			ack = max(ack, f.Num)
		case transport.FrameClose:
			return 0, peerClose(closecode.Code(f.Num), string(f.Data))
		case transport.FramePing:
		default:
			return 0, protoErrorf("unexpected %q frame in a send response", f.Type)
		}
	}
}

// closeCode returns the close code err carries, or 0.
func closeCode(err error) (closecode.Code, string) {
	var ce *session.CloseError
	if errors.As(err, &ce) {
		return ce.Code, ce.Reason
	}
	if errors.Is(err, engine.ErrProtocol) {
		return closecode.Protocol, err.Error()
	}
	return 0, ""
}
