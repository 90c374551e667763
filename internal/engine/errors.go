package engine

import "errors"

// Errors of the engine. The errors an application sees (session.ErrClosed,
// session.ErrQueueFull, session.ErrTooLarge, *session.CloseError) are package
// session's; these two only the transports see.
var (
	ErrSuperseded = errors.New("lifeline: connection superseded by a newer one")
	ErrProtocol   = errors.New("lifeline: protocol error")
)
