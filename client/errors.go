package client

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"syscall"

	"github.com/lifelinehq/lifeline/closecode"
	"github.com/lifelinehq/lifeline/internal/engine"
	"github.com/lifelinehq/lifeline/session"
	"github.com/lifelinehq/lifeline/transport"
)

// ErrReset is matched (errors.Is) by the *ResetError that Conn.Read returns when the
// server could not resume the session.
var ErrReset = errors.New("lifeline: session reset")

// ResetError says that the session was lost: the server answered a resume with a close
// code whose action is reset (docs/protocol.md §7: unknown session, expired, too many
// sessions, credentials refused, shutdown, overflow). Messages may have been lost in
// both directions. The Conn goes on with a fresh session. Read it with errors.As.
type ResetError struct {
	Code   closecode.Code // the close code
	Reason string         // the server's reason
	// Unsent counts the messages written on the lost session that the server had not
	// acknowledged; they were discarded. Requests are not counted: each fails on its
	// own, or goes on the fresh session (Conn.Request).
	Unsent int
}

func (e *ResetError) Error() string {
	msg := fmt.Sprintf("lifeline: session reset with code %d", e.Code)
	if e.Reason != "" {
		msg += ": " + e.Reason
	}
	if e.Unsent > 0 {
		msg += fmt.Sprintf(" (%d messages unsent)", e.Unsent)
	}
	return msg
}

// Is reports that every ResetError is an ErrReset.
func (e *ResetError) Is(target error) bool { return target == ErrReset }

// Internal reasons for a connection's end.
var (
	// errSilent: nothing heard for hb+hbt (docs/protocol.md §6); resume.
	errSilent = errors.New("lifeline: connection silent too long")
	// errStreamEnd: a stream response ended cleanly; reopen it at once.
	errStreamEnd = errors.New("lifeline: stream ended")
	// errGone: the link was detached (superseded, or the session ended).
	errGone = errors.New("lifeline: connection detached")
	// errAborted: the client ended the connection itself.
	errAborted = errors.New("lifeline: connection aborted")
	// errClosed: the graceful close went out on this connection.
	errClosed = errors.New("lifeline: session closed")
)

// peerClose is the error for a close code the server sent (C frame, WebSocket close or
// HTTP error status).
func peerClose(code closecode.Code, reason string) error {
	return &session.CloseError{Code: code, Reason: reason, Remote: true}
}

// action says what the client does after err ended a connection or an attempt, with
// the close code and reason that go with it. A close code the server sent stops, resets
// or resumes the session as docs/protocol.md §7 says. What the client finds wrong
// itself in what arrived (a malformed frame, a frame out of place, a response without
// its hello, a sequence gap) may be a second copy of a response, a reordered one or a
// body a proxy cut short: the client resumes, after a backoff (see local), and the
// server resends from its ack. The one exception is a message over the client's own
// limit (MaxMessageBytes): no copy or cut makes one, and it would come again on every
// resume, so the session stops with 4413.
func action(err error) (closecode.Action, closecode.Code, string) {
	var ce *session.CloseError
	switch {
	case errors.As(err, &ce):
		return ce.Code.Action(), ce.Code, ce.Reason
	case errors.Is(err, session.ErrTooLarge), errors.Is(err, transport.ErrTooLarge):
		return closecode.Stop, closecode.TooLarge, err.Error()
	case errors.Is(err, engine.ErrProtocol), errors.Is(err, transport.ErrMalformed):
		return closecode.Reconnect, closecode.Protocol, err.Error()
	}
	return closecode.Reconnect, 0, ""
}

// local reports whether err is something the client found wrong itself in what
// arrived, rather than a network failure or a code from the server: it resumes after a
// backoff that grows while such faults repeat.
func local(err error) bool {
	var ce *session.CloseError
	return !errors.As(err, &ce) && (errors.Is(err, engine.ErrProtocol) || errors.Is(err, transport.ErrMalformed))
}

// transient reports whether err, which failed an attempt to reach the server, may not
// happen again: a connection cut, reset or timed out during its handshake, a response
// cut short, a gateway's 502-504, a close code that says reconnect or retry after a
// backoff (4429, 4503), or what the client found wrong itself (local). Not transient: a refused connection or an unknown host
// (nothing there to talk to), a certificate refused, another HTTP error without a
// close code (not a Lifeline server), a close code that says stop or reset, a message
// over the limit, a cancelled context.
func transient(err error) bool {
	var ce *session.CloseError
	var se *statusError
	var dns *net.DNSError
	var cert *tls.CertificateVerificationError
	var ua x509.UnknownAuthorityError
	var hn x509.HostnameError
	switch {
	case errors.As(err, &ce):
		// 4429 and 4503 ask for a retry after a backoff (docs/protocol.md §7): too
		// many unconfirmed sessions clears as they expire, a shutting down server
		// may be behind a balancer with others.
		return ce.Remote && (ce.Code.Action() == closecode.Reconnect ||
			ce.Code == closecode.TooMany || ce.Code == closecode.Shutdown)
	case errors.As(err, &se):
		switch se.resp.StatusCode {
		case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			return true
		}
		return false
	case errors.Is(err, syscall.ECONNREFUSED), errors.As(err, &dns) && !dns.IsTemporary && !dns.IsTimeout,
		errors.As(err, &cert), errors.As(err, &ua), errors.As(err, &hn),
		errors.Is(err, session.ErrTooLarge), errors.Is(err, transport.ErrTooLarge),
		errors.Is(err, context.Canceled):
		return false
	}
	return true
}
