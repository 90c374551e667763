package server

import (
	"errors"

	"github.com/lifelinehq/lifeline/closecode"
	"github.com/lifelinehq/lifeline/internal/engine"
	"github.com/lifelinehq/lifeline/session"
)

// appendBatch appends b's frames to a response body (engine.AppendBatch) and counts
// them.
func (srv *Server) appendBatch(dst, scratch []byte, b *engine.Batch, next *uint64) ([]byte, []byte) {
	start := len(dst)
	dst, scratch = engine.AppendBatch(dst, scratch, b, next)
	srv.stats.out(len(b.Msgs), len(dst)-start)
	return dst, scratch
}

// goneCode is the close code and reason for a link's Gone: 4409 when a newer
// connection took the session over, else the code the session ended with.
func goneCode(gone error) (closecode.Code, string) {
	var ce *session.CloseError
	if errors.As(gone, &ce) {
		return ce.Code, ce.Reason
	}
	return closecode.Superseded, "connection superseded"
}
