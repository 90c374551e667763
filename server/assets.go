package server

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	clientjs "github.com/lifelinehq/lifeline/client-js"
)

// The browser client's files are the same for every Server: read and compressed once.
var (
	moduleAsset = sync.OnceValue(func() http.HandlerFunc { return assetHandler("lifeline.mjs") })
	scriptAsset = sync.OnceValue(func() http.HandlerFunc { return assetHandler("lifeline.min.js") })
	// The request module (request/response), apart from the core: an ES module and a script.
	requestModuleAsset = sync.OnceValue(func() http.HandlerFunc { return assetHandler("request.mjs") })
	requestScriptAsset = sync.OnceValue(func() http.HandlerFunc { return assetHandler("request.min.js") })
)

// assetHandler serves one file of the browser client (docs/protocol.md §1) from
// client-js/dist: GET and HEAD, gzip-encoded when the client accepts it, with a strong
// ETag per encoding so a browser revalidates (Cache-Control: no-cache) and gets 304
// while the file is unchanged.
func assetHandler(name string) http.HandlerFunc {
	plain, err := clientjs.Dist.ReadFile("dist/" + name)
	if err != nil {
		panic("lifeline: the embedded browser client lacks " + name)
	}
	var zipped bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&zipped, gzip.BestCompression)
	zw.Write(plain)
	zw.Close()
	sum := sha256.Sum256(plain)
	tag := base64.RawURLEncoding.EncodeToString(sum[:12])
	plainTag, gzipTag := `"`+tag+`"`, `"`+tag+`-gz"`
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD, OPTIONS")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "text/javascript; charset=utf-8")
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Vary", "Accept-Encoding")
		body, etag := plain, plainTag
		if acceptsGzip(r.Header.Get("Accept-Encoding")) {
			body, etag = zipped.Bytes(), gzipTag
			h.Set("Content-Encoding", "gzip")
		}
		h.Set("ETag", etag)
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
	}
}

// acceptsGzip reports whether an Accept-Encoding header accepts gzip (not with q=0).
func acceptsGzip(ae string) bool {
	for _, part := range strings.Split(ae, ",") {
		coding, params, _ := strings.Cut(part, ";")
		if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			continue
		}
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			q, err := strconv.ParseFloat(v, 64)
			return err == nil && q > 0
		}
		return true
	}
	return false
}
