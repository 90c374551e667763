package server

import (
	"cmp"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lifelinehq/lifeline/closecode"
	"github.com/lifelinehq/lifeline/internal/engine"
	"github.com/lifelinehq/lifeline/session"
)

// The inspector (Options.Inspect): a page at {mount}/inspect, plain HTML, JS and CSS
// (server/inspect/), that loads the served client {mount}/lifeline.min.js and opens a
// Lifeline session at {mount}/inspect/ll. That endpoint is a second Server of its own,
// whose handler pushes a JSON snapshot of this one every second: the inspector's
// sessions are not among those it shows, and its page only counts them as viewers.

//go:embed inspect/index.html inspect/inspect.js inspect/inspect.css
var inspectFiles embed.FS

// Limits of what one snapshot lists.
const (
	inspectSessions = 200 // sessions, oldest first
	inspectGroups   = 50  // groups, largest first
	inspectMembers  = 20  // member ids per group
	inspectCloses   = 50  // recent closes, newest first
	inspectSamples  = 120 // seconds of the messages-per-second series
	inspectViewers  = 20  // inspector sessions at once
)

type inspector struct {
	viewers atomic.Int64 // confirmed viewer sessions (a race loser is not one)
	srv     *Server
	inner   *Server
	allow   func(*http.Request) bool
	born    sync.Map // *engine.Session → time.Time of creation

	mu     sync.Mutex
	closes []closeRow // newest last
	series []sample   // oldest first
	last   Stats      // at the last sample
	lastAt time.Time
}

type closeRow struct {
	At        int64          `json:"at"` // unix ms
	ID        string         `json:"id"`
	Code      closecode.Code `json:"code"`
	Reason    string         `json:"reason"`
	Transport string         `json:"transport"`
	Stop      bool           `json:"stop"` // the client does not reconnect
}

type sample struct {
	At        int64   `json:"at"`
	In        float64 `json:"in"` // messages per second over the interval
	Out       float64 `json:"out"`
	Fallbacks uint64  `json:"fallbacks"` // during the interval
	Upgrades  uint64  `json:"upgrades"`
}

type sessionRow struct {
	ID        string   `json:"id"`
	Transport string   `json:"transport"` // "" before a connection attached
	AgeMs     int64    `json:"ageMs"`
	IdleMs    int64    `json:"idleMs"` // since the client was last heard from
	QueuedOut int      `json:"queuedOut"`
	QueuedIn  int      `json:"queuedIn"`
	Groups    []string `json:"groups"`
	born      time.Time
}

type groupRow struct {
	Name    string   `json:"name"`
	Count   int      `json:"count"`
	Members []string `json:"members"` // the first inspectMembers ids, sorted
}

type snapshot struct {
	At       int64        `json:"at"`
	Stats    Stats        `json:"stats"`
	Viewers  int64        `json:"viewers"` // inspector sessions, not in Stats
	Sessions []sessionRow `json:"sessions"`
	Groups   []groupRow   `json:"groups"`
	Closes   []closeRow   `json:"closes"`
	Series   []sample     `json:"series"`
}

var errInspectRefused = errors.New("lifeline: inspector refused")

// initInspector mounts the inspector's endpoints when Options.Inspect is set.
func (srv *Server) initInspector() {
	allow := srv.opts.Inspect
	if allow == nil {
		return
	}
	in := &inspector{srv: srv, allow: allow, lastAt: time.Now()}
	o := srv.opts
	o.Inspect, o.Router, o.Broker, o.MaxSessions = nil, nil, nil, inspectViewers
	o.Authenticate = func(r *http.Request, _ string) (any, error) {
		if !allow(r) {
			return nil, errInspectRefused
		}
		return nil, nil
	}
	in.inner = New(HandlerFunc(in.serveViewer), &o)
	srv.obs.list.Store(&observerList{inspect: in})

	guard := func(h http.HandlerFunc) endpoint {
		return endpoint{nil, func(w http.ResponseWriter, r *http.Request) {
			if !allow(r) {
				http.Error(w, "inspector: forbidden", http.StatusForbidden)
				return
			}
			h(w, r)
		}}
	}
	for _, f := range []struct{ path, file, typ string }{
		{"/inspect", "index.html", "text/html; charset=utf-8"},
		{"/inspect/inspect.js", "inspect.js", "text/javascript; charset=utf-8"},
		{"/inspect/inspect.css", "inspect.css", "text/css; charset=utf-8"},
	} {
		body, _ := inspectFiles.ReadFile("inspect/" + f.file)
		srv.endpoints[f.path] = guard(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodGet && r.Method != http.MethodHead {
				w.Header().Set("Allow", "GET, HEAD, OPTIONS")
				http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
				return
			}
			h := w.Header()
			h.Set("Content-Type", f.typ)
			h.Set("Cache-Control", "no-store")
			h.Set("X-Content-Type-Options", "nosniff")
			h.Set("Content-Security-Policy", "default-src 'self'; connect-src 'self' ws: wss:")
			w.Write(body)
		})
	}
	for _, e := range []string{"/ws", "/stream", "/poll", "/send"} {
		srv.endpoints["/inspect/ll"+e] = guard(func(w http.ResponseWriter, r *http.Request) { in.inner.serve(w, r, e) })
	}
}

// shutdownInspector shuts the inspector's own Server down with this one.
func (srv *Server) shutdownInspector(ctx context.Context) {
	if l := srv.obs.load(); l.inspect != nil {
		l.inspect.inner.Shutdown(ctx)
	}
}

func (in *inspector) created(s *engine.Session) { in.born.Store(s, time.Now()) }

func (in *inspector) closed(s *engine.Session, code closecode.Code, reason, transport string) {
	in.born.Delete(s)
	row := closeRow{At: time.Now().UnixMilli(), ID: s.ID(), Code: code, Reason: reason, Transport: transport,
		Stop: code.Action() == closecode.Stop}
	in.mu.Lock()
	in.closes = append(in.closes, row)
	if len(in.closes) > 2*inspectCloses {
		in.closes = append(in.closes[:0], in.closes[len(in.closes)-inspectCloses:]...)
	}
	in.mu.Unlock()
}

// serveViewer pushes a snapshot at once and then every second until the viewer goes.
func (in *inspector) serveViewer(ctx context.Context, s *session.Session) {
	in.viewers.Add(1)
	defer in.viewers.Add(-1)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		b, _ := json.Marshal(in.snapshot())
		switch err := s.TryWrite(session.Text, b); err {
		case nil, session.ErrQueueFull: // a viewer that fell behind skips a snapshot
		default:
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// snapshot describes the server now; it also takes the series' next sample when a
// second or more has passed since the last (so the series runs while someone looks).
func (in *inspector) snapshot() *snapshot {
	srv, now := in.srv, time.Now()
	snap := &snapshot{At: now.UnixMilli(), Stats: srv.Stats(), Viewers: in.viewers.Load(),
		Sessions: []sessionRow{}, Groups: []groupRow{}, Closes: []closeRow{}} // [] in JSON, not null

	srv.groups.mu.RLock()
	srv.sessions.each(func(s *engine.Session) bool {
		row := sessionRow{ID: s.ID(), Transport: s.Transport(), IdleMs: now.Sub(s.Heard()).Milliseconds(), AgeMs: -1,
			Groups: []string{}}
		row.QueuedOut, row.QueuedIn = s.Queued()
		if b, ok := in.born.Load(s); ok {
			row.born = b.(time.Time)
			row.AgeMs = now.Sub(row.born).Milliseconds()
		}
		for _, g := range srv.groups.of[s] {
			if g != "" {
				row.Groups = append(row.Groups, g)
			}
		}
		snap.Sessions = append(snap.Sessions, row)
		return true
	})
	for name, set := range srv.groups.m {
		if name == "" {
			continue // every session: the sessions table
		}
		g := groupRow{Name: name, Count: len(set), Members: make([]string, 0, len(set))}
		for s := range set {
			g.Members = append(g.Members, s.ID())
		}
		snap.Groups = append(snap.Groups, g)
	}
	srv.groups.mu.RUnlock()

	slices.SortFunc(snap.Sessions, func(a, b sessionRow) int { return cmp.Or(a.born.Compare(b.born), cmp.Compare(a.ID, b.ID)) })
	snap.Sessions = snap.Sessions[:min(len(snap.Sessions), inspectSessions)]
	slices.SortFunc(snap.Groups, func(a, b groupRow) int { return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Name, b.Name)) })
	snap.Groups = snap.Groups[:min(len(snap.Groups), inspectGroups)]
	for i := range snap.Groups {
		m := snap.Groups[i].Members
		slices.Sort(m)
		snap.Groups[i].Members = m[:min(len(m), inspectMembers)]
	}

	in.mu.Lock()
	defer in.mu.Unlock()
	if secs := now.Sub(in.lastAt).Seconds(); secs >= 0.9 {
		st, last := snap.Stats, in.last
		in.series = append(in.series, sample{At: snap.At,
			In: float64(st.MessagesIn-last.MessagesIn) / secs, Out: float64(st.MessagesOut-last.MessagesOut) / secs,
			Fallbacks: st.Fallbacks - last.Fallbacks, Upgrades: st.Upgrades - last.Upgrades})
		if len(in.series) > 2*inspectSamples {
			in.series = append(in.series[:0], in.series[len(in.series)-inspectSamples:]...)
		}
		in.last, in.lastAt = st, now
	}
	snap.Series = append([]sample{}, in.series[max(0, len(in.series)-inspectSamples):]...)
	for i := len(in.closes) - 1; i >= 0 && len(snap.Closes) < inspectCloses; i-- {
		snap.Closes = append(snap.Closes, in.closes[i])
	}
	return snap
}
