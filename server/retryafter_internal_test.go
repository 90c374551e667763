package server

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/lifelinehq/lifeline/closecode"
)

// TestRetryAfterOnEvery429And503: every refusal the server answers with 429 or 503,
// whatever its close code, carries Retry-After (docs/protocol.md §12); no other does.
func TestRetryAfterOnEvery429And503(t *testing.T) {
	srv := New(nil, &Options{Logger: slog.New(slog.DiscardHandler)})
	for code := closecode.Code(1000); code <= 4999; code++ {
		w := httptest.NewRecorder()
		srv.fail(w, httptest.NewRequest("GET", "/ll/poll", nil), code, "refused")
		busy := w.Code == http.StatusTooManyRequests || w.Code == http.StatusServiceUnavailable
		if got := w.Header().Get("Retry-After"); busy != (got != "") {
			t.Fatalf("code %d: status %d with Retry-After %q", code, w.Code, got)
		}
	}
}
