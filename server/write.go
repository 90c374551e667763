package server

import (
	"context"
	"errors"
	"time"

	"github.com/lifelinehq/lifeline/closecode"
	"github.com/lifelinehq/lifeline/internal/engine"
)

// writerLinger is how long an idle writer goroutine waits for more before it exits.
// While messages flow it stays; an idle connection parks no writer.
const writerLinger = time.Second

// startWriter lets l's wake-ups run the writer.
func (wc *wsConn) startWriter(l *engine.Link) {
	wc.wmu.Lock()
	wc.stopped, wc.quit = false, make(chan struct{})
	wc.w.Reset()
	wc.running.Store(false)
	wc.wmu.Unlock()
	l.OnWake(func() { wc.kick(l) })
}

// kick starts the writer unless it is running or stopped. It is called from
// Link.OnWake and the watchdog.
func (wc *wsConn) kick(l *engine.Link) {
	if wc.running.Load() {
		return
	}
	wc.wmu.Lock()
	if !wc.stopped && wc.running.CompareAndSwap(false, true) {
		wc.writers.Add(1)
		go wc.writeLoop(l, wc.quit)
	}
	wc.wmu.Unlock()
}

// stopWriter stops the writer and waits for it.
func (wc *wsConn) stopWriter() {
	wc.wmu.Lock()
	wc.stopped = true
	close(wc.quit)
	wc.wmu.Unlock()
	wc.writers.Wait()
}

// writeLoop sends what the link has to send. It exits after writerLinger without
// work, and for good when the link or the connection ends.
func (wc *wsConn) writeLoop(l *engine.Link, quit chan struct{}) {
	defer wc.writers.Done()
	w := &wc.w
	var b engine.Batch
	var linger *time.Timer
	carried := false // messages or acks went out: linger for more
	defer func() {
		if linger != nil {
			linger.Stop()
		}
	}()
	for {
		select {
		case <-l.Wake():
		default:
		}
		ping := wc.needPing.Swap(false)
		l.Pull(&b, 64, 256<<10, ping)
		if b.Gone != nil {
			if errors.Is(b.Gone, engine.ErrSuperseded) {
				wc.closeWith(closecode.Superseded, "connection superseded")
				wc.cancel()
			}
			return
		}
		sent, err := w.Write(context.Background(), &b, ping) // the watchdog bounds it
		if err != nil {
			wc.cancel()
			wc.c.CloseNow()
			return
		}
		if len(b.Msgs) > 0 {
			wc.srv.stats.out(len(b.Msgs), 0)
		}
		if b.Close != nil {
			wc.closeWith(b.Close.Code, b.Close.Reason)
			l.CloseSent()
			wc.cancel()
			return
		}
		if sent {
			wc.lastWrite.Store(time.Now().UnixNano())
			carried = carried || len(b.Msgs) > 0 || b.HasAck
			continue
		}
		if !wc.rest(l, quit, &linger, carried) {
			return
		}
	}
}

// rest waits for more work once a batch went out: an idle connection's writer, woken
// only for a heartbeat (carried false), exits at once; one that carried messages or
// acks lingers for writerLinger. It reports whether to carry on.
func (wc *wsConn) rest(l *engine.Link, quit chan struct{}, linger **time.Timer, carried bool) bool {
	if !carried {
		wc.running.Store(false)
		return len(l.Wake()) > 0 && wc.running.CompareAndSwap(false, true)
	}
	if *linger == nil {
		*linger = time.NewTimer(writerLinger)
	} else {
		(*linger).Reset(writerLinger)
	}
	select {
	case <-l.Wake():
		return true
	case <-quit:
		return false
	case <-(*linger).C:
		wc.running.Store(false)
		// A wake-up that came after the last Pull left its token: carry on.
		return len(l.Wake()) > 0 && wc.running.CompareAndSwap(false, true)
	}
}
