// Package api joins the handler-facing package session to the engine without
// session exporting a constructor: session registers how to wrap an engine session,
// and the server asks for the wrapper once per session.
package api

// Wrap returns the *session.Session (as any) for an *engine.Session. Package session
// sets it in its init; anything importing session may call it.
var Wrap func(core any) any

// Unwrap returns the *engine.Session (as any) behind a *session.Session. Package
// session sets it in its init.
var Unwrap func(pub any) any
