package session

import (
	"errors"
	"fmt"

	"github.com/lifelinehq/lifeline/closecode"
)

// Errors a Session returns. A *CloseError matches ErrClosed with errors.Is.
var (
	ErrClosed    = errors.New("lifeline: session closed")
	ErrQueueFull = errors.New("lifeline: session queue full")
	ErrTooLarge  = errors.New("lifeline: message over the size limit")
	ErrNotUTF8   = errors.New("lifeline: request or reply is not UTF-8")
)

// RequestError is how a request fails when the peer answered it with an error (an X
// frame, docs/protocol.md §16): Message is the error's text, as the peer gave it (the
// Go side cuts it to 1024 bytes). A peer with no answerer gives "no request handler".
// Read it with errors.As.
type RequestError struct {
	Message string
}

func (e *RequestError) Error() string { return "lifeline: request failed: " + e.Message }

// CloseError says how a session ended: its close code (docs/protocol.md §7), the
// reason, and whether the peer closed it. Read it with errors.As.
type CloseError struct {
	Code   closecode.Code
	Reason string
	Remote bool // the peer sent the close
}

func (e *CloseError) Error() string {
	by := "locally"
	if e.Remote {
		by = "by peer"
	}
	if e.Reason == "" {
		return fmt.Sprintf("lifeline: session closed %s with code %v", by, e.Code)
	}
	return fmt.Sprintf("lifeline: session closed %s with code %v: %s", by, e.Code, e.Reason)
}

// Is reports that every CloseError is an ErrClosed.
func (e *CloseError) Is(target error) bool { return target == ErrClosed }
