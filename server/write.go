package server

import (
	"context"
	"errors"
	"time"

	"github.com/lifelinehq/lifeline/closecode"
	"github.com/lifelinehq/lifeline/internal/engine"
)

// The writer. One holder at a time (wc.running) pulls from the link and writes: the
// link's Pull is the single source of order. A blocking Session.Write that finds no
// writer running and nothing queued before its message writes its batch on its own
// goroutine (Link.OnWake with inline set); everything else (a backlog left after such a
// write, TryWrite and Broadcast, acks due on the reader, heartbeats, the close) starts
// a writer goroutine, which exits as soon as the link has nothing more to send. An idle
// connection parks no writer.

// startWriter lets l's wake-ups run the writer.
func (wc *wsConn) startWriter(l *engine.Link) {
	wc.wmu.Lock()
	quit := make(chan struct{})
	wc.stopped, wc.quit = false, quit
	// Made once per link: a go statement with arguments would allocate them for every
	// writer started (one per message of a broadcast to a quiet session).
	wc.loop = func() { wc.writeLoop(l, quit) }
	wc.w.Reset()
	wc.running.Store(false)
	wc.wmu.Unlock()
	l.OnWake(func(inline bool) { wc.wake(l, inline) })
}

// wake takes the writer unless it is running or stopped: on the caller's goroutine when
// inline, else in a new writer goroutine. It is called from Link.OnWake and the
// watchdog.
func (wc *wsConn) wake(l *engine.Link, inline bool) {
	if wc.running.Load() {
		return // the holder finds the wake-up token when it looks for more
	}
	wc.wmu.Lock()
	if wc.stopped || !wc.running.CompareAndSwap(false, true) {
		wc.wmu.Unlock()
		return
	}
	wc.writers.Add(1)
	quit, loop := wc.quit, wc.loop
	wc.wmu.Unlock()
	if inline {
		wc.writeInline(l, quit, loop)
	} else {
		go loop()
	}
}

// stopWriter stops the writer and waits for it.
func (wc *wsConn) stopWriter() {
	wc.wmu.Lock()
	wc.stopped = true
	close(wc.quit)
	wc.wmu.Unlock()
	wc.writers.Wait()
}

// writeInline writes one batch on the caller's goroutine, holding the writer; a backlog
// left behind goes to a writer goroutine.
func (wc *wsConn) writeInline(l *engine.Link, quit chan struct{}, loop func()) {
	drainWake(l)
	sent, done := wc.step(l, true)
	if done {
		wc.writers.Done() // the link or the connection ended: the writer stays taken
		return
	}
	if (sent && l.More()) || !wc.release(l) {
		go loop() // a backlog: hand the writer (and its count) over
		return
	}
	wc.writers.Done()
}

// writeLoop sends what the link has to send, and exits once it has nothing more, or
// for good when the link or the connection ends.
func (wc *wsConn) writeLoop(l *engine.Link, quit chan struct{}) {
	defer wc.writers.Done()
	for {
		drainWake(l)
		sent, done := wc.step(l, false)
		if done {
			return
		}
		if sent {
			select {
			case <-quit:
				wc.running.Store(false)
				return
			default:
			}
			continue
		}
		if wc.release(l) {
			return
		}
	}
}

// release gives the writer up. It reports false, keeping it, when a wake-up came after
// the last Pull (its token is left): the holder carries on.
func (wc *wsConn) release(l *engine.Link) bool {
	wc.running.Store(false)
	return !(len(l.Wake()) > 0 && wc.running.CompareAndSwap(false, true))
}

// drainWake takes a pending wake-up token: the Pull that follows sees its cause.
func drainWake(l *engine.Link) {
	select {
	case <-l.Wake():
	default:
	}
}

// step pulls one batch and writes it. It reports whether anything went out, and done
// when the link or the connection ended (the writer is then never released). On the
// caller's goroutine (inline), the WebSocket closing handshake, which waits for the
// peer, goes to a goroutine of its own.
func (wc *wsConn) step(l *engine.Link, inline bool) (sent, done bool) {
	b := &wc.batch
	ping := wc.needPing.Swap(false)
	l.Pull(b, 64, 256<<10, ping)
	if b.Gone != nil {
		if errors.Is(b.Gone, engine.ErrSuperseded) {
			wc.finish(inline, func() {
				wc.closeWith(closecode.Superseded, "connection superseded")
				wc.cancel()
			})
		}
		return false, true
	}
	sent, err := wc.w.Write(context.Background(), b, ping) // the watchdog bounds it
	if err != nil {
		wc.cancel()
		wc.c.CloseNow()
		return false, true
	}
	if len(b.Msgs) > 0 {
		wc.srv.stats.out(len(b.Msgs), 0)
	}
	if b.Close != nil {
		code, reason := b.Close.Code, b.Close.Reason
		wc.finish(inline, func() {
			wc.closeWith(code, reason)
			l.CloseSent()
			wc.cancel()
		})
		return sent, true
	}
	if sent {
		wc.lastWrite.Store(time.Now().UnixNano())
	}
	return sent, false
}

// finish runs the end of a connection's writing: at once in a writer goroutine, in a
// goroutine of its own (counted among the writers) on a caller's goroutine, which is
// not to wait for the peer's side of the closing handshake.
func (wc *wsConn) finish(inline bool, fn func()) {
	if !inline {
		fn()
		return
	}
	wc.writers.Add(1) // the caller still holds its own count: stopWriter is waiting on both
	go func() {
		defer wc.writers.Done()
		fn()
	}()
}
