// Package session is what a Lifeline handler uses: one session per browser (or Go
// client), an ordered, exactly-once stream of messages in each direction that
// outlives any one connection. Read and Write work the same whether the session is
// carried by a WebSocket, an HTTP stream or long-polling, and across changes between
// them (docs/protocol.md).
package session

import (
	"context"
	"strconv"

	"github.com/lifelinehq/lifeline/closecode"
	"github.com/lifelinehq/lifeline/internal/api"
)

// MessageType is the type of a message. Its values match github.com/coder/websocket.
type MessageType int

// Message types.
const (
	Text   MessageType = 1
	Binary MessageType = 2
)

// String returns "text", "binary", or the number of another value.
func (t MessageType) String() string {
	switch t {
	case Text:
		return "text"
	case Binary:
		return "binary"
	}
	return "MessageType(" + strconv.Itoa(int(t)) + ")"
}

// core is what the engine's session does for a Session.
type core interface {
	ID() string
	Identity() any
	Read(ctx context.Context) (MessageType, []byte, error)
	Write(ctx context.Context, typ MessageType, p []byte) error
	TryWrite(typ MessageType, p []byte) error
	Close(code closecode.Code, reason string) error
	CloseNow(code closecode.Code, reason string)
	Done() <-chan struct{}
	Err() error
	Request(ctx context.Context, p []byte) ([]byte, error)
	OnRequest(fn func(ctx context.Context, req []byte) ([]byte, error))
}

func init() {
	api.Wrap = func(c any) any { return &Session{c.(core)} }
	api.Unwrap = func(s any) any { return s.(*Session).c }
}

// Session is one Lifeline session, as its handler sees it. The server makes one per
// session and hands the same *Session to every call that concerns it, so it may be
// used as a map key. All its methods are safe for concurrent use.
type Session struct {
	c core
}

// ID returns the session's public id (never the secret that grants it).
func (s *Session) ID() string { return s.c.ID() }

// Identity returns what the server's authenticator attached to the session (on
// creation, and again on each resume), or nil.
func (s *Session) Identity() any { return s.c.Identity() }

// Read returns the next message. It blocks until one arrives, the session ends
// (a *CloseError, after every message received before the end has been read), or ctx
// is done. The returned payload belongs to the caller.
func (s *Session) Read(ctx context.Context) (MessageType, []byte, error) { return s.c.Read(ctx) }

// Write queues a message for the peer; it copies p. It blocks while the session's
// outbound queue is full, until the peer acknowledges, the session ends (a
// *CloseError) or ctx is done. A message over the size limit is ErrTooLarge.
// On a WebSocket with nothing else queued and at most 64 KiB unacknowledged, Write
// also sends the message on the caller's goroutine before it returns (no goroutine
// hop); the server's heartbeat watchdog bounds that network write.
func (s *Session) Write(ctx context.Context, typ MessageType, p []byte) error {
	return s.c.Write(ctx, typ, p)
}

// TryWrite is Write that never blocks: with the outbound queue full it returns
// ErrQueueFull and queues nothing.
func (s *Session) TryWrite(typ MessageType, p []byte) error { return s.c.TryWrite(typ, p) }

// Close ends the session gracefully: messages already written are still delivered,
// then the peer is told code and reason (1000, or the application's own code from
// 3000-4399 or 4600-4999: package closecode). Writes fail from now on; Read returns
// what was already received, then a *CloseError. Safe to call more than once; only
// the first counts.
func (s *Session) Close(code closecode.Code, reason string) error { return s.c.Close(code, reason) }

// CloseNow ends the session at once: queued messages are dropped, the peer is told
// code and reason if a connection is attached, and blocked calls return. Safe to call
// more than once, and after Close.
func (s *Session) CloseNow(code closecode.Code, reason string) { s.c.CloseNow(code, reason) }

// Done is closed when the session has ended.
func (s *Session) Done() <-chan struct{} { return s.c.Done() }

// Err returns how the session ended (a *CloseError), or nil while it is open.
func (s *Session) Err() error { return s.c.Err() }

// Request sends p to the peer as a request and returns its reply (docs/protocol.md
// §16). The request travels in the session's ordered, exactly-once stream like a
// message, so it is answered once, across cuts and transport changes. Request blocks
// while the outbound queue is full, then until the reply arrives. It fails with
// ctx.Err() when ctx is done first (a later reply is ignored), a *RequestError when
// the peer answered with an error, the session's *CloseError when it ends first,
// ErrTooLarge when the request is over the message limit, and ErrNotUTF8 when p is
// not UTF-8 (payloads are text: put JSON in them).
func (s *Session) Request(ctx context.Context, p []byte) ([]byte, error) {
	return s.c.Request(ctx, p)
}

// OnRequest sets the function that answers the peer's requests; call it once, early
// in the handler. Requests that arrive before it is set wait for it, in order,
// counted against the inbound queue. Each request runs fn on a goroutine of its own,
// at most 16 at a time per session (more wait, in order), so the messages that
// follow a request may be read before fn has run: what must come after it goes in a
// message, not a request. ctx ends when the session ends. fn's reply goes back to the requester; an error goes back as a *RequestError
// with err.Error() (cut to 1024 bytes). A reply that is not UTF-8 or is over the
// message limit goes back as an error saying so.
func (s *Session) OnRequest(fn func(ctx context.Context, req []byte) ([]byte, error)) {
	s.c.OnRequest(fn)
}
