package transport

// Close codes (docs/protocol.md §7). The same numbers travel in WebSocket close frames,
// in C frames and in the body of HTTP error responses.
const (
	CodeNormal      = 1000 // either side closed the session: stop
	CodeProtocol    = 4400 // malformed frame, header or sequence: stop
	CodeAuth        = 4401 // authentication refused: stop
	CodeOrigin      = 4403 // origin not allowed: stop
	CodeUnknown     = 4404 // unknown session or wrong token: reset
	CodeTimeout     = 4408 // heartbeat timeout: reconnect
	CodeSuperseded  = 4409 // a newer connection took over: ignore this one
	CodeExpired     = 4410 // resume window passed: reset
	CodeTooLarge    = 4413 // over a size limit: stop
	CodeTooMany     = 4429 // too many sessions: reset after backoff
	CodeAuthExpired = 4440 // credentials refused on resume: reset with fresh ones
	CodeShutdown    = 4503 // server shutting down: reset elsewhere after backoff
	CodeOverflow    = 4507 // replay buffer overflow: reset
)

// Action says what a client does when a session or connection ends with a code.
type Action int

const (
	Reconnect Action = iota // resume the same session on a new connection
	Reset                   // the session is gone: start a fresh one, tell the app
	Stop                    // do not reconnect
	Ignore                  // this connection was superseded; the session lives on
)

// ActionFor maps a close code to what the client does (docs/protocol.md §7). Codes the
// table does not name: 1000-3999 stop, others reconnect.
func ActionFor(code int) Action {
	switch code {
	case CodeTimeout:
		return Reconnect
	case CodeSuperseded:
		return Ignore
	case CodeUnknown, CodeExpired, CodeTooMany, CodeAuthExpired, CodeShutdown, CodeOverflow:
		return Reset
	case CodeNormal, CodeProtocol, CodeAuth, CodeOrigin, CodeTooLarge:
		return Stop
	}
	if code >= 1000 && code < 4000 {
		return Stop
	}
	return Reconnect
}

// HTTPStatus is the HTTP status that carries code on the HTTP transports, or 0.
func HTTPStatus(code int) int {
	switch code {
	case CodeProtocol, CodeAuth, CodeOrigin, CodeUnknown, CodeSuperseded, CodeExpired,
		CodeTooLarge, CodeTooMany, CodeShutdown:
		return code - 4000
	case CodeAuthExpired:
		return 401
	}
	return 0
}
