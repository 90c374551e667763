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
// batch frames and body bytes. After a failure or a partial ack it rewinds the link,
// so the session's own queue sends the unacknowledged messages again (the server
// drops duplicates). Not safe for concurrent use.
type uplink struct {
	c          *Conn
	g          *gen
	l          *engine.Link
	sid, token string
	hb         time.Duration // a heartbeat after this long idle; 0: none (polls are heard)
	timeout    time.Duration // per POST
	maxFrames  int
	maxBody    int

	first, last uint64 // the numbers of the messages of the body in flight; last < first: none
	ack         uint64 // the ack to send, while ackDue
	ackDue      bool
	close       *session.CloseError // the close to send, once pulled
	b           engine.Batch
	body, frame []byte
	bo          backoff
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
			u.l.Rewind(u.first)
			wait = u.bo.next() // then send everything unacknowledged again
		case u.close != nil && u.last < u.first:
			u.l.CloseSent()
			return errClosed
		case u.last >= u.first && u.ackedTo() < u.first:
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

// build returns the next body: messages from the link, as many as fit; an ack when
// due; the close when pulled; a heartbeat when idle and there is nothing else. nil
// means nothing to send.
func (u *uplink) build(idle bool) ([]byte, error) {
	limit := u.maxBody - 256 // room for the A, P and C frames
	b := &u.b
	u.l.Pull(b, u.maxFrames-4, limit/2, idle) // base64 makes binary 4/3 its size
	if b.Gone != nil {
		return nil, errGone
	}
	if b.HasAck {
		u.ack, u.ackDue = b.Ack, true
	}
	if b.Close != nil {
		u.close = b.Close
	}
	b.Ack, b.HasAck, b.Close = u.ack, u.ackDue, nil
	if len(b.Msgs) == 0 {
		b.Close = u.close // Pull hands it out once everything was acknowledged
	}
	for {
		var next uint64
		u.body, u.frame = engine.AppendBatch(u.body[:0], u.frame, b, &next)
		if len(u.body) <= limit || len(b.Msgs) <= 1 {
			break
		}
		b.Msgs = b.Msgs[:len(b.Msgs)/2] // rare: text with many line breaks grows most
		u.l.Rewind(b.Seq + uint64(len(b.Msgs)))
	}
	u.first, u.last = b.Seq, b.Seq+uint64(len(b.Msgs))-1
	if len(b.Msgs) == 0 {
		u.first, u.last = 1, 0
	}
	if len(u.body) == 0 && idle && u.hb > 0 {
		u.body = append(u.body, engine.PingEvent...)
	}
	if len(u.body) == 0 {
		return nil, nil
	}
	return u.body, nil
}

// send POSTs body; the session releases what the server's ack covers, and what it
// does not cover goes again.
func (u *uplink) send(ctx context.Context, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, u.timeout)
	defer cancel()
	ack, err := u.c.post(ctx, u.g, u.sid, u.token, body)
	if err != nil {
		return err
	}
	u.ackDue = false
	u.settle(ack)
	return nil
}

// settle rewinds the link to the first message of the body that the server's ack
// did not cover.
func (u *uplink) settle(ack uint64) {
	if u.last >= u.first && ack < u.last {
		u.l.Rewind(max(ack+1, u.first))
	}
}

// ackedTo is the highest message number the server has acknowledged.
func (u *uplink) ackedTo() uint64 { return u.g.acked.Load() }

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
				return 0, engine.Protocolf("ack %d of a message never sent", f.Num)
			}
			ack = max(ack, f.Num)
		case transport.FrameClose:
			return 0, peerClose(closecode.Code(f.Num), string(f.Data))
		case transport.FramePing:
		default:
			return 0, engine.Protocolf("unexpected %q frame in a send response", f.Type)
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
