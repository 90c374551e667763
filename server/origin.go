package server

import (
	"net/http"
	"net/url"
	"path"
	"strings"

	"github.com/lifelinehq/lifeline/transport"
)

const corsHeaders = transport.HeaderSession + ", " + transport.HeaderToken + ", " +
	transport.HeaderAck + ", " + transport.HeaderConn + ", " + transport.HeaderAuth + ", Content-Type"

// originAllowed checks Origin against the request's host and the patterns
// (docs/protocol.md §9). A request without Origin is not from a browser page: allowed.
func (srv *Server) originAllowed(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	u, err := url.Parse(o)
	if err != nil || u.Host == "" {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	host := strings.ToLower(u.Host)
	for _, p := range srv.opts.OriginPatterns {
		if ok, _ := path.Match(strings.ToLower(p), host); ok {
			return true
		}
	}
	return false
}

// cors adds CORS headers for an allowed Origin; it must run after originAllowed.
func cors(w http.ResponseWriter, r *http.Request) {
	o := r.Header.Get("Origin")
	if o == "" {
		return
	}
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", o)
	h.Set("Access-Control-Allow-Credentials", "true")
	h.Add("Vary", "Origin")
	if r.Method == http.MethodOptions {
		h.Set("Access-Control-Allow-Methods", "GET, POST")
		h.Set("Access-Control-Allow-Headers", corsHeaders)
		h.Set("Access-Control-Max-Age", "600")
	}
}
