// Package server is Lifeline's http.Handler: mount it on a chi router (or any mux)
// and every browser gets one session, over WebSocket where it can, HTTP streaming or
// long-polling where it cannot, resumed across transports without loss.
package server

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/go-chi/chi/v5"

	"github.com/lifelinehq/lifeline/closecode"
	"github.com/lifelinehq/lifeline/internal/engine"
	"github.com/lifelinehq/lifeline/session"
	"github.com/lifelinehq/lifeline/transport"
)

// Handler serves one session. ServeSession runs once the session is confirmed; ctx
// is cancelled when the session ends. When ServeSession returns the session is closed
// gracefully (code 1000) unless it was closed already.
type Handler interface {
	ServeSession(ctx context.Context, s *session.Session)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, s *session.Session)

// ServeSession calls f(ctx, s).
func (f HandlerFunc) ServeSession(ctx context.Context, s *session.Session) { f(ctx, s) }

// Server is the Lifeline endpoint set (docs/protocol.md §1) as an http.Handler. It is
// safe for concurrent use.
type Server struct {
	h    Handler
	opts Options
	cfg  engine.Config
	log  *slog.Logger

	count    atomic.Int64 // sessions held
	adm      admission
	drain    drain
	closing  atomic.Bool
	handlers gate
	conns    connSet  // hijacked WebSocket connections
	sessions registry // this node's live sessions (route.go)
	groups   groups
	graves   tombstones
	stats    counters
	obs      observers // observe.go
	batches  sync.Pool // *batch, for send requests

	endpoints map[string]endpoint // by path below the mount
}

// Header values shared by every response (net/http does not change them).
var (
	textPlain = []string{"text/plain; charset=utf-8"}
	noStore   = []string{"no-store"}
)

// plainHeaders sets the headers of a poll or send response.
func plainHeaders(h http.Header) {
	h["Content-Type"] = textPlain
	h["Cache-Control"] = noStore
}

// New returns a Server that runs h for every session. opts may be nil.
func New(h Handler, opts *Options) *Server {
	srv := &Server{h: h, opts: opts.withDefaults()}
	srv.cfg = srv.opts.sessionConfig()
	srv.log = srv.opts.Logger
	srv.endpoints = map[string]endpoint{
		"/ws":     {onlyGet, srv.serveWebSocket},
		"/stream": {onlyGet, srv.serveStream},
		"/poll":   {getOrPost, srv.servePoll}, // POST: a poll with a send body
		"/send":   {onlyPost, srv.serveSend},

		"/lifeline.js":     {nil, moduleAsset()},
		"/lifeline.min.js": {nil, scriptAsset()},
		"/request.js":      {nil, requestModuleAsset()},
		"/request.min.js":  {nil, requestScriptAsset()},
	}
	srv.initInspector() // inspect.go
	srv.sessions.init()
	srv.groups.init()
	srv.conns.init()
	srv.adm.init(&srv.opts)
	srv.graves.init(srv.opts.ResumeWindow, srv.opts.MaxSessions)
	maxFrame := base64.StdEncoding.EncodedLen(srv.opts.MaxMessageBytes) + 1
	srv.batches.New = func() any { return newBatch(maxFrame) }
	srv.startBroker() // broker.go
	return srv
}

// ServeHTTP serves the endpoints. Mounted on chi (r.Mount("/lifeline", srv)) the
// route below the mount point picks the endpoint; elsewhere the last path segment does.
func (srv *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	if rc := chi.RouteContext(r.Context()); rc != nil && rc.RoutePath != "" {
		p = rc.RoutePath
	} else if i := strings.LastIndexByte(p, '/'); i >= 0 {
		p = p[i:]
	}
	srv.serve(w, r, p)
}

// Middleware returns chi-style middleware that serves the endpoints under prefix
// (for example "/lifeline") and passes every other request to the next handler.
func (srv *Server) Middleware(prefix string) func(http.Handler) http.Handler {
	prefix = strings.TrimRight(prefix, "/")
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if rest, ok := strings.CutPrefix(r.URL.Path, prefix); ok && strings.HasPrefix(rest, "/") {
				srv.serve(w, r, rest)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

func (srv *Server) serve(w http.ResponseWriter, r *http.Request, endpoint string) {
	if !srv.originAllowed(r) {
		srv.fail(w, r, closecode.Origin, "origin not allowed")
		return
	}
	cors(w, r)
	if r.Method == http.MethodOptions {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if srv.refuseDuringShutdown(w, r) {
		return
	}
	e, found := srv.endpoints[endpoint]
	switch {
	case !found:
		http.NotFound(w, r)
	case e.methods != nil && !slices.Contains(e.methods, r.Method):
		w.Header().Set("Allow", strings.Join(e.methods, ", ")+", OPTIONS")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	default:
		if rl := srv.relay(r); rl != nil {
			rl.ServeHTTP(w, r)
			return
		}
		e.serve(w, r)
	}
}

// relay returns the Relay for an HTTP request naming a session another node owns.
func (srv *Server) relay(r *http.Request) Relay {
	if id := r.Header.Get(transport.HeaderSession); id != "" {
		return srv.opts.Router.Relay(id)
	}
	return nil
}

// The methods of the endpoints.
var (
	onlyGet   = []string{http.MethodGet}
	onlyPost  = []string{http.MethodPost}
	getOrPost = []string{http.MethodGet, http.MethodPost}
)

// endpoint is one of docs/protocol.md §1's endpoints.
type endpoint struct {
	methods []string // nil: the handler checks the method itself
	serve   http.HandlerFunc
}

// fail answers an HTTP request with the status for code and a C frame body, and logs.
func (srv *Server) fail(w http.ResponseWriter, r *http.Request, code closecode.Code, reason string) {
	status := transport.HTTPStatus(code)
	if status == 0 {
		status = http.StatusGone // the session ended with this code
	}
	level := slog.LevelInfo
	if code == closecode.Normal || code == closecode.Superseded {
		level = slog.LevelDebug // routine: a poll after a clean close, a poll handed over
	}
	srv.log.Log(r.Context(), level, "lifeline: request refused", "code", code, "reason", reason,
		"method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr)
	if code == closecode.Shutdown {
		srv.drain.told(r.Header.Get(transport.HeaderSession))
	}
	h := w.Header()
	plainHeaders(h)
	if status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable {
		h.Set("Retry-After", retryAfter) // every 429 and 503 (docs/protocol.md §12)
	}
	w.WriteHeader(status)
	w.Write(transport.AppendEvent(nil, transport.AppendClose(nil, code, reason)))
}

// refusal is a close code and reason for a request the server will not serve.
type refusal struct {
	code   closecode.Code
	reason string
}

func (e *refusal) Error() string { return e.reason }

func refuse(code closecode.Code, reason string) error { return &refusal{code, reason} }

// create makes a new session (docs/protocol.md §3).
func (srv *Server) create(r *http.Request, creds string) (*engine.Session, error) {
	if srv.closing.Load() {
		return nil, refuse(closecode.Shutdown, "server shutting down")
	}
	// Admission first: it costs a map look-up, and a refusal costs nothing more.
	c, err := srv.admit(r)
	if err != nil {
		return nil, err
	}
	if srv.count.Add(1) > int64(srv.opts.MaxSessions) {
		srv.count.Add(-1)
		srv.adm.cancel(c)
		return nil, refuse(closecode.TooMany, "too many sessions")
	}
	var identity any
	if srv.opts.Authenticate != nil {
		id, err := srv.opts.Authenticate(r, creds)
		if err != nil {
			srv.count.Add(-1)
			srv.adm.cancel(c)
			srv.log.Info("lifeline: authentication refused", "err", err, "remote", r.RemoteAddr)
			return nil, refuse(closecode.Auth, "authentication refused")
		}
		identity = id
	}
	var tok [16]byte
	rand.Read(tok[:])
	s := engine.New(srv.opts.Router.NewID(), base64.RawURLEncoding.EncodeToString(tok[:]), srv.cfg)
	s.SetIdentity(identity)
	srv.adm.add(s, c)
	srv.sessions.add(s)
	srv.stats.created.Add(1)
	srv.obs.created(s)
	s.OnEnd(func() { srv.ended(s) })
	return s, nil
}

// resume runs the authenticator for a resume of s (docs/protocol.md §3): refused
// credentials end the session with 4440.
func (srv *Server) resume(r *http.Request, s *engine.Session, creds string) (*engine.Session, error) {
	if srv.opts.Authenticate != nil {
		identity, err := srv.opts.Authenticate(r, creds)
		if err != nil {
			srv.log.Info("lifeline: credentials refused on resume", "session", s.ID(), "err", err)
			s.CloseNow(closecode.AuthExpired, "credentials refused")
			return nil, refuse(closecode.AuthExpired, "credentials refused")
		}
		s.SetIdentity(identity)
	}
	return s, nil
}

// find returns the session with id if token is its, or the refusal that tells the
// client how it ended.
func (srv *Server) find(id, token string) (*engine.Session, error) {
	s := srv.sessions.get(id)
	if s != nil && subtle.ConstantTimeCompare([]byte(s.Token()), []byte(token)) == 1 {
		return s, nil
	}
	srv.stats.resets.Add(1)
	if code, reason, ok := srv.graves.lookup(id, token); ok {
		return nil, refuse(code, reason)
	}
	return nil, refuse(closecode.Unknown, "unknown session")
}

// attach attaches a connection to s, confirms s when the connection is not the one
// that created it, and keeps the counters.
func (srv *Server) attach(s *engine.Session, name string, conn, ack uint64, acks, created bool) (*engine.Link, uint64, error) {
	prev, prevConn := s.Transport(), s.LastConn()
	l, received, err := s.Attach(name, conn, ack, acks)
	if err != nil && created {
		s.CloseNow(closecode.Protocol, "refused before attach")
	}
	if err != nil {
		var ce *session.CloseError
		switch {
		case errors.Is(err, engine.ErrSuperseded):
			return nil, 0, refuse(closecode.Superseded, "connection superseded")
		case errors.As(err, &ce):
			srv.stats.resets.Add(1)
			return nil, 0, refuse(ce.Code, ce.Reason)
		}
		return nil, 0, refuse(closecode.Protocol, "bad ack")
	}
	srv.stats.moved(prev, name, prevConn, conn, created)
	if !created {
		srv.confirm(s)
	}
	return l, received, nil
}

// confirm starts the handler the first time a client names a new session.
func (srv *Server) confirm(s *engine.Session) {
	if !s.Confirm() {
		return
	}
	srv.adm.confirmed(s)
	if !srv.handlers.enter() {
		s.CloseNow(closecode.Shutdown, "server shutting down")
		return
	}
	// The handler's context ends with the session (Shutdown ends every session), so
	// it needs no parent to register with: that would cost every session a map entry.
	ctx, cancel := context.WithCancel(context.Background())
	s.OnEnd(cancel)
	srv.groups.join("", s)
	go func() {
		defer srv.handlers.leave()
		defer cancel()
		srv.h.ServeSession(ctx, s.Public())
		s.Close(closecode.Normal, "")
	}()
}

// ended runs once when a session ends.
func (srv *Server) ended(s *engine.Session) {
	code, reason := closecode.Normal, ""
	var ce *session.CloseError
	if errors.As(s.Err(), &ce) {
		code, reason = ce.Code, ce.Reason
	}
	srv.graves.add(s, code, reason) // before the removal: a resume never sees neither
	srv.sessions.remove(s.ID())
	srv.count.Add(-1)
	srv.groups.leaveAll(s)
	srv.stats.gone(s.Transport())
	srv.obs.closed(s, code, reason)
	srv.log.Debug("lifeline: session ended", "session", s.ID(), "code", code, "reason", reason)
}

// sessionFromHeaders creates or resumes the session an HTTP downlink request names.
func (srv *Server) sessionFromHeaders(r *http.Request) (s *engine.Session, conn, ack uint64, created bool, err error) {
	h := r.Header
	id := h.Get(transport.HeaderSession)
	if id == "" {
		s, err = srv.create(r, h.Get(transport.HeaderAuth))
		return s, 0, 0, true, err
	}
	if conn, err = headerNum(h, transport.HeaderConn); err == nil {
		ack, err = headerNum(h, transport.HeaderAck)
	}
	if err != nil {
		return nil, 0, 0, false, err
	}
	token, creds := h.Get(transport.HeaderToken), h.Get(transport.HeaderAuth)
	if s, err = srv.find(id, token); err == nil && !srv.continuesPoll(r, s, conn) {
		s, err = srv.resume(r, s, creds)
	}
	return s, conn, ack, false, err
}

// continuesPoll reports whether r is a later poll of the session's current run of
// polls: not a resume, so the authenticator does not run again.
func (srv *Server) continuesPoll(r *http.Request, s *engine.Session, conn uint64) bool {
	return strings.HasSuffix(r.URL.Path, "/poll") && s.Transport() == namePoll && s.LastConn() == conn
}

func headerNum(h http.Header, name string) (uint64, error) {
	v := h.Get(name)
	if v == "" {
		return 0, nil
	}
	n, err := transport.ParseNum([]byte(v))
	if err != nil {
		return 0, refuse(closecode.Protocol, "bad "+name+" header")
	}
	return n, nil
}

// hello builds the H frame for a connection.
func (srv *Server) hello(dst []byte, s *engine.Session, received uint64, created bool) []byte {
	o := &srv.opts
	h := transport.Hello{
		V: transport.Version, SessionID: s.ID(), Ack: received,
		Heartbeat: o.Heartbeat.Milliseconds(), HBTimeout: o.HeartbeatTimeout.Milliseconds(),
		Resume: o.ResumeWindow.Milliseconds(), MaxMessage: o.MaxMessageBytes,
		MaxBatch: o.MaxBatchFrames, MaxBody: o.MaxBodyBytes, MaxQueued: o.MaxQueuedBytes,
	}
	if created {
		h.Token = s.Token()
	}
	return transport.AppendHello(dst, &h)
}

// failErr answers with err's refusal, or a protocol error.
func (srv *Server) failErr(w http.ResponseWriter, r *http.Request, err error) {
	var rf *refusal
	if errors.As(err, &rf) {
		srv.fail(w, r, rf.code, rf.reason)
		return
	}
	srv.fail(w, r, closecode.Protocol, err.Error())
}
