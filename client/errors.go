package client

import (
	"errors"
	"fmt"

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
	// acknowledged; they were discarded.
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
// the close code and reason that go with it. Errors with no close code reconnect.
func action(err error) (closecode.Action, closecode.Code, string) {
	var ce *session.CloseError
	switch {
	case errors.As(err, &ce):
		return ce.Code.Action(), ce.Code, ce.Reason
	case errors.Is(err, session.ErrTooLarge), errors.Is(err, transport.ErrTooLarge):
		return closecode.Stop, closecode.TooLarge, err.Error()
	case errors.Is(err, engine.ErrProtocol), errors.Is(err, transport.ErrMalformed):
		return closecode.Stop, closecode.Protocol, err.Error()
	}
	return closecode.Reconnect, 0, ""
}
