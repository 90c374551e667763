package client

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"strconv"

	"github.com/lifelinehq/lifeline/internal/engine"
	"github.com/lifelinehq/lifeline/transport"
)

// poll reads the first poll's response past its hello, then polls again and again,
// each poll acknowledging what the client holds (docs/protocol.md §5). All polls of
// the run share the connection number of the first.
func (h *httpConn) poll(in *engine.Inbound) error {
	rd := h.rd
	for {
		in.Body()
		if err := h.readBody(rd, in); err != io.EOF {
			return err
		}
		h.releaseBody()
		var err error
		if rd, err = h.nextPoll(); err != nil {
			return err
		}
	}
}

// nextPoll makes one poll and returns its whole response: it is held at most hb by
// the server, so hb+hbt without an answer means the connection is dead. The body is
// read before any message is delivered, so a slow reader does not look like silence.
func (h *httpConn) nextPoll() (*transport.Reader, error) {
	ctx, cancel := context.WithTimeout(h.ctx, deadline(h.hello))
	defer cancel()
	req := h.c.request(ctx, http.MethodGet, namePoll, nil)
	hd := req.Header
	hd.Set(transport.HeaderSession, h.sid())
	hd.Set(transport.HeaderToken, h.token())
	hd.Set(transport.HeaderAck, strconv.FormatUint(h.g.s.Received(), 10))
	hd.Set(transport.HeaderConn, strconv.FormatUint(h.req.Conn, 10))
	if h.req.Auth != "" {
		hd.Set(transport.HeaderAuth, h.req.Auth) // the server authenticates every poll
	}
	resp, err := h.c.do(req)
	if err == nil {
		limit := 4*int64(max(h.hello.MaxBody, 1<<20)) + 4*int64(base64.StdEncoding.EncodedLen(h.g.s.Config().MaxMessage))
		var data []byte
		data, err = io.ReadAll(io.LimitReader(resp.Body, limit))
		resp.Body.Close()
		if err == nil {
			return h.c.newReader(bytes.NewReader(data), h.g), nil
		}
	}
	if h.ctx.Err() != nil {
		return nil, context.Cause(h.ctx)
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return nil, errSilent
	}
	return nil, err
}
