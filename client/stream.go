package client

import (
	"context"
	"errors"
	"io"
	"sync"

	"github.com/lifelinehq/lifeline/internal/engine"
)

// run carries the session over an HTTP transport until the connection ends: this
// goroutine reads the downlink (a stream, or a run of polls), a second one sends.
func (h *httpConn) run(l *engine.Link, in *engine.Inbound) error {
	defer h.abort()
	up := newUplink(h, l)
	finish := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := up.run(h.ctx, finish); err != nil {
			h.cancel(err)
		}
	}()
	var err error
	if h.name == nameStream {
		err = h.stream(in)
	} else {
		err = h.poll(in)
	}
	if errors.Is(err, errStreamEnd) {
		close(finish) // let a POST under way complete: the next stream takes over
	} else {
		h.cancel(err)
	}
	wg.Wait()
	if h.ctx.Err() != nil {
		return context.Cause(h.ctx)
	}
	return err
}

// stream reads the stream response until it ends. A clean end is the server
// recycling the stream (docs/protocol.md §6): the client reopens it at once.
func (h *httpConn) stream(in *engine.Inbound) error {
	stop := watch(in, deadline(h.hello), h.cancel)
	defer stop()
	err := h.readBody(h.rd, in)
	if err == io.EOF {
		return errStreamEnd
	}
	return err
}

// sid and token name the session on the connection's requests.
// acked returns the ack the opening request gave the server.
func (h *httpConn) acked() uint64 { return h.req.Ack }

func (h *httpConn) sid() string { return h.hello.SessionID }

func (h *httpConn) token() string {
	if h.req.Token != "" {
		return h.req.Token
	}
	return h.hello.Token
}
