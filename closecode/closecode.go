// Package closecode names the codes a Lifeline session or connection ends with, and
// what a client does on each (docs/protocol.md §7). An application closes a session
// with one of these, or with a code of its own from 3000-4399 or 4600-4999; it needs
// nothing from the wire codec to do so.
package closecode

import "strconv"

// Code is a close code. The same numbers travel in WebSocket close frames, in C frames
// and in the body of HTTP error responses.
type Code int

// Lifeline's codes. 4400-4599 are reserved for Lifeline; the rest of 3000-4999 is the
// application's, and means Stop.
const (
	Normal      Code = 1000 // either side closed the session: stop
	GoingAway   Code = 1001 // the peer or an intermediary went away: reconnect
	Protocol    Code = 4400 // malformed frame, header or sequence: stop
	Auth        Code = 4401 // authentication refused: stop
	Origin      Code = 4403 // origin not allowed: stop
	Unknown     Code = 4404 // unknown session or wrong token: reset
	Timeout     Code = 4408 // heartbeat timeout: reconnect
	Superseded  Code = 4409 // a newer connection took over: ignore this one
	Expired     Code = 4410 // resume window passed: reset
	TooLarge    Code = 4413 // over a size limit: stop
	TooMany     Code = 4429 // too many sessions: reset after backoff
	AuthExpired Code = 4440 // credentials refused on resume: reset with fresh ones
	Shutdown    Code = 4503 // server shutting down: reset elsewhere after backoff
	Overflow    Code = 4507 // replay buffer overflow: reset
)

// Action says what a client does when a session or connection ends with a code.
type Action int

const (
	Reconnect Action = iota // resume the same session on a new connection
	Reset                   // the session is gone: start a fresh one, tell the app
	Stop                    // do not reconnect; tell the app the code
	Ignore                  // this connection was superseded; the session lives on
)

var actionNames = [...]string{"reconnect", "reset", "stop", "ignore"}

// String returns the action's name as docs/protocol.md §7 writes it.
func (a Action) String() string {
	if a >= 0 && int(a) < len(actionNames) {
		return actionNames[a]
	}
	return "Action(" + strconv.Itoa(int(a)) + ")"
}

// Action returns what a client does on c (docs/protocol.md §7). No code (0 or less: a
// network failure) and the WebSocket codes that mean the connection or an
// intermediary failed (1001, 1005, 1006, 1011-1015) reconnect; every code the table
// does not name, the application's 3000-4999 among them, stops.
func (c Code) Action() Action {
	switch c {
	case Timeout, GoingAway, 1005, 1006, 1011, 1012, 1013, 1014, 1015:
		return Reconnect
	case Superseded:
		return Ignore
	case Unknown, Expired, TooMany, AuthExpired, Shutdown, Overflow:
		return Reset
	}
	if c <= 0 {
		return Reconnect
	}
	return Stop
}

var names = map[Code]string{
	Normal: "normal", GoingAway: "going away", Protocol: "protocol error",
	Auth: "authentication refused", Origin: "origin not allowed", Unknown: "unknown session",
	Timeout: "heartbeat timeout", Superseded: "superseded", Expired: "session expired",
	TooLarge: "too large", TooMany: "too many sessions", AuthExpired: "credentials expired",
	Shutdown: "server shutting down", Overflow: "replay buffer overflow",
}

// String returns the code and, for Lifeline's own codes, its name: "4410 (session
// expired)".
func (c Code) String() string {
	if n, ok := names[c]; ok {
		return strconv.Itoa(int(c)) + " (" + n + ")"
	}
	return strconv.Itoa(int(c))
}
