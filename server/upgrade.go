package server

import (
	"context"
	"net/http"
)

type upgradeKey struct{}

// withUpgrade returns ctx carrying r, the upgrade request of a WebSocket relayed to
// another node (accept.go).
func withUpgrade(ctx context.Context, r *http.Request) context.Context {
	return context.WithValue(ctx, upgradeKey{}, r)
}

// UpgradeRequest returns the HTTP upgrade request of the WebSocket that
// Relay.ServeWebSocket relays, from the ctx it was given, or nil. A Router carries
// its headers (cookies, Authorization) and client address to the owner, whose
// Authenticate sees them on resume as it would on one node.
func UpgradeRequest(ctx context.Context) *http.Request {
	r, _ := ctx.Value(upgradeKey{}).(*http.Request)
	return r
}
