package client

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// ErrOffline is matched (errors.Is) by the *OfflineError that Read and Write return
// once the server has been unreachable for Options.OfflineAfter.
var ErrOffline = errors.New("lifeline: server unreachable")

// OfflineError says that no connection has carried the session for
// Options.OfflineAfter: every attempt to reach the server failed. The Conn keeps
// trying. Messages written before are kept (at most MaxQueuedBytes): they go once a
// connection resumes the session, or are counted in ResetError.Unsent if the server
// lost it. Read it with errors.As.
type OfflineError struct {
	For    time.Duration // how long no connection had carried the session
	Unsent int           // messages written and not acknowledged by the server
	Err    error         // why the last attempt failed
}

func (e *OfflineError) Error() string {
	msg := fmt.Sprintf("lifeline: server unreachable for %v", e.For.Round(time.Millisecond))
	if e.Unsent > 0 {
		msg += fmt.Sprintf(" (%d messages unsent)", e.Unsent)
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Is reports that every OfflineError is an ErrOffline.
func (e *OfflineError) Is(target error) bool { return target == ErrOffline }

// Unwrap returns why the last attempt failed.
func (e *OfflineError) Unwrap() error { return e.Err }

// offline is a Conn's offline state: set by the supervisor, read by Read and Write.
type offline struct {
	mu  sync.Mutex
	err *OfflineError // set while offline past OfflineAfter
	// wake is cancelled when an offline spell begins that Read has not reported: it
	// wakes a blocked Read. Once reported, or when the spell ends unreported, it is
	// replaced by a fresh one.
	wake   context.Context
	cancel context.CancelFunc
	told   bool // Read reported the current spell
	// down is cancelled when a spell begins, and replaced when it ends: it wakes a
	// Write waiting for room.
	down     context.Context
	downStop context.CancelFunc
}

func (o *offline) init() {
	o.wake, o.cancel = context.WithCancel(context.Background())
	o.down, o.downStop = context.WithCancel(context.Background())
}

// begin starts an offline spell: err says why.
func (o *offline) begin(err *OfflineError) {
	o.mu.Lock()
	o.err, o.told = err, false
	o.cancel()
	o.downStop()
	o.mu.Unlock()
}

// end ends the offline spell, if any: a connection carries the session again.
func (o *offline) end() {
	o.mu.Lock()
	if o.err != nil {
		o.err = nil
		if !o.told {
			o.wake, o.cancel = context.WithCancel(context.Background())
		}
		o.down, o.downStop = context.WithCancel(context.Background())
	}
	o.mu.Unlock()
}

// current returns the offline error while offline, else nil.
func (o *offline) current() *OfflineError {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.err
}

// waker returns the context whose end wakes a blocked Read.
func (o *offline) waker() context.Context {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.wake
}

// writeWaker returns the context whose end wakes a Write waiting for room.
func (o *offline) writeWaker() context.Context {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.down
}

// report returns the offline error if Read has not reported this spell yet, and
// marks it reported.
func (o *offline) report() *OfflineError {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.err == nil || o.told {
		return nil
	}
	o.told = true
	o.wake, o.cancel = context.WithCancel(context.Background())
	return o.err
}

// offClock is started when the connection carrying the session is lost: after
// OfflineAfter without another, the Conn goes offline.
type offClock struct {
	c    *Conn
	t    *time.Timer
	mu   sync.Mutex
	last error // why the last attempt failed
}

// note records why the last attempt failed.
func (k *offClock) note(err error) {
	k.mu.Lock()
	k.last = err
	k.mu.Unlock()
}

// stop stops the clock: a connection carries the session again (online), or the
// session ended.
func (k *offClock) stop(online bool) {
	if k.t != nil {
		k.t.Stop()
	}
	if online {
		k.c.off.end()
	}
}

// watchOffline starts an offClock; err ended the connection.
func (c *Conn) watchOffline(err error) *offClock {
	k := &offClock{c: c, last: err}
	d := c.opts.OfflineAfter
	if d <= 0 {
		return k
	}
	k.t = time.AfterFunc(d, func() {
		k.mu.Lock()
		err := k.last
		k.mu.Unlock()
		g := c.current()
		oe := &OfflineError{For: d, Unsent: g.s.UnackedMessages(), Err: err}
		c.off.begin(oe)
		sid, _ := g.ids()
		c.log.Info("lifeline: server unreachable", "session", sid, "for", d, "unsent", oe.Unsent, "err", err)
	})
	return k
}
