package server

import (
	"sync"

	"github.com/lifelinehq/lifeline/closecode"
	"github.com/lifelinehq/lifeline/internal/api"
	"github.com/lifelinehq/lifeline/internal/engine"
	"github.com/lifelinehq/lifeline/session"
)

// groups maps group names to member sessions. The group "" holds every confirmed
// session.
type groups struct {
	mu sync.RWMutex
	m  map[string]map[*engine.Session]struct{}
	of map[*engine.Session][]string
}

func (g *groups) init() {
	g.m = make(map[string]map[*engine.Session]struct{})
	g.of = make(map[*engine.Session][]string)
}

func (g *groups) join(name string, s *engine.Session) {
	select {
	case <-s.Done():
		return
	default:
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	set := g.m[name]
	if set == nil {
		set = make(map[*engine.Session]struct{})
		g.m[name] = set
	}
	if _, ok := set[s]; !ok {
		set[s] = struct{}{}
		g.of[s] = append(g.of[s], name)
	}
}

func (g *groups) leave(name string, s *engine.Session) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.leaveLocked(name, s)
}

func (g *groups) leaveLocked(name string, s *engine.Session) {
	set := g.m[name]
	if _, ok := set[s]; !ok {
		return
	}
	delete(set, s)
	if len(set) == 0 {
		delete(g.m, name)
	}
	names := g.of[s]
	for i, n := range names {
		if n == name {
			names = append(names[:i], names[i+1:]...)
			break
		}
	}
	if len(names) == 0 {
		delete(g.of, s)
	} else {
		g.of[s] = names
	}
}

func (g *groups) leaveAll(s *engine.Session) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, n := range append([]string(nil), g.of[s]...) {
		g.leaveLocked(n, s)
	}
}

// Join adds s to the named group; it leaves by itself when it ends. The empty name is
// the group of all sessions, which every session joins when its handler starts.
func (srv *Server) Join(group string, s *session.Session) { srv.groups.join(group, core(s)) }

// Leave removes s from the named group.
func (srv *Server) Leave(group string, s *session.Session) { srv.groups.leave(group, core(s)) }

// Members returns the ids of this node's sessions in the group ("" for every
// confirmed session), in no order. A cluster reads those of every node
// (cluster.Cluster.Members).
func (srv *Server) Members(group string) []string {
	srv.groups.mu.RLock()
	defer srv.groups.mu.RUnlock()
	ids := make([]string, 0, len(srv.groups.m[group]))
	for s := range srv.groups.m[group] {
		ids = append(ids, s.ID())
	}
	return ids
}

// core returns the engine's session behind a handler's.
func core(s *session.Session) *engine.Session { return api.Unwrap(s).(*engine.Session) }

// Broadcast queues one message for every session in the group ("" for all sessions)
// and returns how many sessions of this node it reached; with a Broker (a cluster) it
// also publishes the message once to the other nodes, which deliver it to their own
// members. It never blocks: one payload copy is shared
// by all the sessions, and a session whose queue is full (a client that fell behind by
// more than MaxQueuedBytes) is closed with code 4507, so it resets and knows it missed
// messages, rather than holding up the others or losing messages silently.
func (srv *Server) Broadcast(group string, typ session.MessageType, data []byte) int {
	n := srv.deliver(group, typ, data)
	srv.opts.Broker.Publish(group, typ, data)
	return n
}

// deliver is Broadcast to this node's members only.
func (srv *Server) deliver(group string, typ session.MessageType, data []byte) int {
	start := srv.obs.broadcastStart()
	m := engine.Copy(typ, data) // encoded once for every WebSocket session
	var full []*engine.Session
	n := 0
	srv.groups.mu.RLock()
	for s := range srv.groups.m[group] {
		switch err := s.TryWriteMessage(m); err {
		case nil:
			n++
		case session.ErrQueueFull:
			full = append(full, s)
		}
	}
	srv.groups.mu.RUnlock()
	for _, s := range full {
		srv.log.Warn("lifeline: slow session dropped", "session", s.ID(), "code", closecode.Overflow)
		s.CloseNow(closecode.Overflow, "queue overflow")
	}
	srv.obs.broadcast(start, group, n)
	return n
}
