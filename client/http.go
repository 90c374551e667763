package client

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/lifelinehq/lifeline/closecode"
	"github.com/lifelinehq/lifeline/internal/engine"
	"github.com/lifelinehq/lifeline/transport"
)

// httpConn is the downlink of an HTTP transport (a stream response, or a run of
// polls) once its hello has arrived. stream.go and poll.go run it; send.go carries
// the uplink.
type httpConn struct {
	c      *Conn
	g      *gen
	name   string
	req    transport.ResumeReq // what the opening request named; Conn is the run's number
	hello  *transport.Hello
	ctx    context.Context // the connection's lifetime
	cancel context.CancelCauseFunc

	body      io.ReadCloser // the first response, read past its hello
	rd        *transport.Reader
	closeBody sync.Once
}

// openHTTP sends the first request of a stream or a run of polls (creating a session
// when req names none) and reads up to its hello, within ctx.
func (c *Conn) openHTTP(ctx context.Context, name string, g *gen, req *transport.ResumeReq) (*httpConn, *transport.Hello, error) {
	h := &httpConn{c: c, g: g, name: name, req: *req}
	h.ctx, h.cancel = context.WithCancelCause(c.ctx)
	stop := context.AfterFunc(ctx, func() { h.cancel(context.Cause(ctx)) })
	hello, err := h.open(g)
	if !stop() && err == nil {
		err = context.Cause(ctx)
	}
	if err != nil {
		h.abort()
		return nil, nil, err
	}
	return h, hello, nil
}

func (h *httpConn) open(g *gen) (*transport.Hello, error) {
	req := h.c.request(h.ctx, http.MethodGet, h.name, nil)
	hd := req.Header
	if h.req.SessionID != "" {
		hd.Set(transport.HeaderSession, h.req.SessionID)
		hd.Set(transport.HeaderToken, h.req.Token)
		hd.Set(transport.HeaderAck, strconv.FormatUint(h.req.Ack, 10))
		hd.Set(transport.HeaderConn, strconv.FormatUint(h.req.Conn, 10))
	}
	if h.req.Auth != "" {
		hd.Set(transport.HeaderAuth, h.req.Auth)
	}
	if h.name == nameStream {
		hd.Set("Accept", "text/event-stream")
	}
	resp, err := h.c.do(req)
	if err != nil {
		return nil, h.cause(err)
	}
	h.body = resp.Body
	h.rd = h.c.newReader(resp.Body, g)
	f, err := h.rd.Next()
	if err != nil {
		return nil, h.cause(err)
	}
	h.hello, err = helloOf(f)
	return h.hello, err
}

// helloOf reads a connection's first frame: the hello, or a close code refusing it.
func helloOf(f transport.Frame) (*transport.Hello, error) {
	switch f.Type {
	case transport.FrameHello:
		h, err := transport.DecodeHello(f.Data)
		if err != nil {
			return nil, &engine.ProtocolError{Reason: err.Error()}
		}
		return h, nil
	case transport.FrameClose:
		return nil, peerClose(closecode.Code(f.Num), string(f.Data))
	}
	return nil, engine.Protocolf("%q frame before the hello", f.Type)
}

// cause prefers why the connection's context ended over the error it caused.
func (h *httpConn) cause(err error) error {
	if h.ctx.Err() != nil {
		return context.Cause(h.ctx)
	}
	return err
}

// abort drops the connection. Safe at any time and more than once.
func (h *httpConn) abort() {
	h.cancel(errAborted)
	h.releaseBody()
}

// releaseBody closes the first response's body.
func (h *httpConn) releaseBody() {
	h.closeBody.Do(func() {
		if h.body != nil {
			h.body.Close()
		}
	})
}

// confirm confirms the session this connection created (§3) with a send of A0.
func (h *httpConn) confirm(ctx context.Context) error {
	sid, token := h.hello.SessionID, h.hello.Token
	body := transport.AppendEvent(nil, transport.AppendNum(nil, transport.FrameAck, 0))
	_, err := h.c.post(ctx, h.g, sid, token, body)
	return err
}

// readBody feeds the frames of one body to in until it ends (io.EOF) or fails.
func (h *httpConn) readBody(rd *transport.Reader, in *engine.Inbound) error {
	for {
		f, err := rd.Next()
		if err != nil {
			return h.cause(err)
		}
		if f.Type == transport.FrameHello {
			// A run of polls may be greeted again; it must be the same session.
			hello, err := transport.DecodeHello(f.Data)
			if err != nil || hello.SessionID != h.hello.SessionID {
				return engine.Protocolf("hello for another session")
			}
			continue
		}
		if f.Type == transport.FrameText {
			f.Data = bytes.Clone(f.Data) // the reader reuses its buffer
		}
		if _, err := in.Frame(h.ctx, f); err != nil {
			return inboundErr(err)
		}
	}
}

// request returns a request for an endpoint with Options.Header.
func (c *Conn) request(ctx context.Context, method, endpoint string, body io.Reader) *http.Request {
	req, err := http.NewRequestWithContext(ctx, method, c.mount.endpoint(endpoint), body)
	if err != nil {
		panic(err) // the mount URL was parsed by Dial
	}
	for k, v := range c.opts.Header {
		req.Header[k] = append([]string(nil), v...)
	}
	return req
}

// do sends req. A response other than 200 becomes an error: a *session.CloseError
// when it carries a close code.
func (c *Conn) do(req *http.Request) (*http.Response, error) {
	resp, err := c.opts.HTTPClient.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		err := responseError(resp)
		resp.Body.Close()
		return nil, err
	}
	resp.Body = &countingBody{ReadCloser: resp.Body, n: &c.stats.bytesIn}
	return resp, nil
}

// responseError reads the close code from the C frame of an error response
// (docs/protocol.md §7). A response without one did not come from a Lifeline server
// (a proxy, say) and is a plain failure.
func responseError(resp *http.Response) error {
	var body io.Reader = http.NoBody
	if resp.Body != nil {
		body = resp.Body
	}
	rd := transport.NewReader(io.LimitReader(body, 4096), 1024)
	for {
		f, err := rd.Next()
		if err != nil {
			break
		}
		if f.Type == transport.FrameClose {
			return peerClose(closecode.Code(f.Num), string(f.Data))
		}
	}
	return &statusError{resp}
}

// statusError is an HTTP response without a close code: it did not come from a
// Lifeline server (a proxy, say).
type statusError struct{ resp *http.Response }

func (e *statusError) Error() string {
	if r := e.resp.Request; r != nil {
		return fmt.Sprintf("lifeline: %s %s: %s", r.Method, r.URL.Path, e.resp.Status)
	}
	return fmt.Sprintf("lifeline: %s", e.resp.Status)
}

// newReader returns a frame reader of an HTTP body sized for the session's messages.
func (c *Conn) newReader(r io.Reader, g *gen) *transport.Reader {
	return transport.NewReader(r, base64.StdEncoding.EncodedLen(g.s.Config().MaxMessage)+1024)
}

// countingBody counts the bytes read from a response body.
type countingBody struct {
	io.ReadCloser
	n *atomic.Uint64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(uint64(n))
	return n, err
}
