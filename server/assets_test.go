package server_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"testing"

	clientjs "github.com/lifelinehq/lifeline/client-js"
)

// TestAssets checks that the browser client (the core and the request module, each as
// an ES module and a script) is served from the mount: the committed
// dist files, byte for byte, gzip-encoded on request, revalidated by ETag (304), on
// GET and HEAD only, and refused to a foreign origin like every endpoint.
func TestAssets(t *testing.T) {
	_, base := start(t, echo, nil)
	get := func(method, path string, hdr map[string]string) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, nil)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		tr := &http.Transport{DisableCompression: true} // see the encoding as sent
		defer tr.CloseIdleConnections()
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, b
	}
	for path, file := range map[string]string{
		"/lifeline.js": "dist/lifeline.mjs", "/lifeline.min.js": "dist/lifeline.min.js",
		"/request.js": "dist/request.mjs", "/request.min.js": "dist/request.min.js",
	} {
		want, err := clientjs.Dist.ReadFile(file)
		if err != nil || len(want) < 1000 {
			t.Fatalf("embedded %s: %d bytes, %v", file, len(want), err)
		}
		resp, body := get("GET", path, nil)
		if resp.StatusCode != 200 || !bytes.Equal(body, want) {
			t.Fatalf("GET %s: %s, %d bytes; want 200 and the %d bytes of %s", path, resp.Status, len(body), len(want), file)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "text/javascript; charset=utf-8" {
			t.Errorf("GET %s: Content-Type %q", path, ct)
		}
		etag := resp.Header.Get("ETag")
		if len(etag) < 10 || etag[0] != '"' || resp.Header.Get("Cache-Control") != "no-cache" {
			t.Fatalf("GET %s: ETag %q, Cache-Control %q", path, etag, resp.Header.Get("Cache-Control"))
		}
		resp, body = get("GET", path, map[string]string{"If-None-Match": etag})
		if resp.StatusCode != http.StatusNotModified || len(body) != 0 {
			t.Errorf("GET %s If-None-Match: %s with %d bytes; want 304", path, resp.Status, len(body))
		}
		resp, body = get("GET", path, map[string]string{"If-None-Match": `"other"`})
		if resp.StatusCode != 200 || !bytes.Equal(body, want) {
			t.Errorf("GET %s with a stale ETag: %s", path, resp.Status)
		}

		resp, body = get("GET", path, map[string]string{"Accept-Encoding": "br, gzip;q=0.8"})
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil || resp.Header.Get("Content-Encoding") != "gzip" {
			t.Fatalf("GET %s accepting gzip: Content-Encoding %q, %v", path, resp.Header.Get("Content-Encoding"), err)
		}
		unzipped, err := io.ReadAll(zr)
		if err != nil || !bytes.Equal(unzipped, want) {
			t.Fatalf("GET %s gzip: %d bytes unzipped, %v", path, len(unzipped), err)
		}
		gzTag := resp.Header.Get("ETag")
		if gzTag == etag || resp.Header.Get("Vary") != "Accept-Encoding" {
			t.Errorf("GET %s gzip: ETag %q (plain %q), Vary %q", path, gzTag, etag, resp.Header.Get("Vary"))
		}
		t.Logf("%s: %d bytes, %d gzip", path, len(want), len(body))
		resp, _ = get("GET", path, map[string]string{"Accept-Encoding": "gzip;q=0"})
		if resp.Header.Get("Content-Encoding") != "" {
			t.Errorf("GET %s with gzip;q=0: Content-Encoding %q", path, resp.Header.Get("Content-Encoding"))
		}

		resp, body = get("HEAD", path, nil)
		if resp.StatusCode != 200 || len(body) != 0 || resp.ContentLength != int64(len(want)) {
			t.Errorf("HEAD %s: %s, body %d, Content-Length %d", path, resp.Status, len(body), resp.ContentLength)
		}
		resp, _ = get("POST", path, nil)
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") == "" {
			t.Errorf("POST %s: %s, Allow %q; want 405", path, resp.Status, resp.Header.Get("Allow"))
		}
		resp, _ = get("GET", path, map[string]string{"Origin": "https://evil.example"})
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("GET %s from a foreign origin: %s; want 403", path, resp.Status)
		}
	}
	if resp, _ := get("GET", "/lifeline.css", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /lifeline.css: %s; want 404", resp.Status)
	}
}
