package transport

import "github.com/lifelinehq/lifeline/closecode"

// HTTPStatus is the HTTP status that carries code on the HTTP transports, or 0
// (docs/protocol.md §7). The close codes themselves, and what a client does on each,
// are package closecode's.
func HTTPStatus(code closecode.Code) int {
	switch code {
	case closecode.Protocol, closecode.Auth, closecode.Origin, closecode.Unknown, closecode.Superseded,
		closecode.Expired, closecode.TooLarge, closecode.TooMany, closecode.Shutdown:
		return int(code) - 4000
	case closecode.AuthExpired:
		return 401
	}
	return 0
}
