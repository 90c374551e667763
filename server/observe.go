package server

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/lifelinehq/lifeline/closecode"
	"github.com/lifelinehq/lifeline/internal/engine"
)

// Observer receives a Server's events as they happen, for what its Stats counters do
// not keep: how each session ended and how each broadcast went. Package
// github.com/lifelinehq/lifeline/metrics turns them into Prometheus metrics. Every
// field may be nil. The funcs run on the goroutine of the event, possibly on many at
// once: they must be safe for concurrent use, quick, and must not block.
type Observer struct {
	// Closed runs once when a session ends, with its close code (1000 for a clean
	// end) and the transport that carried it last ("" if no connection ever attached).
	Closed func(code closecode.Code, transport string)

	// Broadcast runs after each Broadcast with the group, the sessions the message
	// was queued for, and how long the fan-out took.
	Broadcast func(group string, reached int, took time.Duration)
}

// Observe adds o to the server's observers and returns a func that removes it (safe
// to call more than once). Events before Observe are not replayed. A Server with no
// observers pays one atomic load per session end and per broadcast.
func (srv *Server) Observe(o Observer) (remove func()) {
	h := &o
	srv.obs.mu.Lock()
	defer srv.obs.mu.Unlock()
	list := srv.obs.load()
	srv.obs.list.Store(&observerList{all: append(append([]*Observer(nil), list.all...), h), inspect: list.inspect})
	var once sync.Once
	return func() {
		once.Do(func() {
			srv.obs.mu.Lock()
			defer srv.obs.mu.Unlock()
			list := srv.obs.load()
			next := &observerList{inspect: list.inspect}
			for _, x := range list.all {
				if x != h {
					next.all = append(next.all, x)
				}
			}
			srv.obs.list.Store(next)
		})
	}
}

// observers is the server's current observers: a copy-on-write list read with one
// atomic load, written under mu.
type observers struct {
	mu   sync.Mutex
	list atomic.Pointer[observerList]
}

type observerList struct {
	all     []*Observer
	inspect *inspector // Options.Inspect's bookkeeping (inspect.go), or nil
}

var noObservers observerList

func (o *observers) load() *observerList {
	if l := o.list.Load(); l != nil {
		return l
	}
	return &noObservers
}

// active returns the list when it has anyone to tell, or nil.
func (o *observers) active() *observerList {
	l := o.list.Load()
	if l == nil || (len(l.all) == 0 && l.inspect == nil) {
		return nil
	}
	return l
}

// created tells the inspector a session was made.
func (o *observers) created(s *engine.Session) {
	if l := o.active(); l != nil && l.inspect != nil {
		l.inspect.created(s)
	}
}

// closed tells everyone a session ended.
func (o *observers) closed(s *engine.Session, code closecode.Code, reason string) {
	l := o.active()
	if l == nil {
		return
	}
	name := s.Transport()
	for _, x := range l.all {
		if x.Closed != nil {
			x.Closed(code, name)
		}
	}
	if l.inspect != nil {
		l.inspect.closed(s, code, reason, name)
	}
}

// broadcastStart returns the time a broadcast starts, or the zero time when nobody
// is told (time.Now is not free).
func (o *observers) broadcastStart() time.Time {
	if l := o.active(); l != nil && len(l.all) > 0 {
		return time.Now()
	}
	return time.Time{}
}

// broadcast tells everyone how a broadcast that started at start went.
func (o *observers) broadcast(start time.Time, group string, reached int) {
	if start.IsZero() {
		return
	}
	took := time.Since(start)
	for _, x := range o.load().all {
		if x.Broadcast != nil {
			x.Broadcast(group, reached, took)
		}
	}
}
