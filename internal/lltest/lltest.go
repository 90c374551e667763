// Package lltest holds what the tests of several packages share.
package lltest

import (
	"context"

	"github.com/lifelinehq/lifeline/server"
	"github.com/lifelinehq/lifeline/session"
)

// Echo writes every message back on its session until the session ends.
var Echo = server.HandlerFunc(func(ctx context.Context, s *session.Session) {
	for {
		typ, p, err := s.Read(ctx)
		if err != nil || s.Write(ctx, typ, p) != nil {
			return
		}
	}
})
