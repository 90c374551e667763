package server

import (
	"time"

	"github.com/lifelinehq/lifeline/closecode"
)

// watch runs every half heartbeat: it asks for a heartbeat on a connection the server
// has been silent on, and drops one the client has been silent on for
// Heartbeat+HeartbeatTimeout (docs/protocol.md §6).
func (wc *wsConn) watch() {
	o := &wc.srv.opts
	if wc.ctx.Err() != nil {
		return
	}
	now := time.Now()
	if now.Sub(time.Unix(0, wc.lastRead.Load())) > o.Heartbeat+o.HeartbeatTimeout {
		wc.closeWith(closecode.Timeout, "heartbeat timeout")
		wc.cancel()
		wc.c.CloseNow()
		return
	}
	wc.wmu.Lock()
	l := wc.l
	wc.wmu.Unlock()
	// A connection whose link is gone (superseded, or its session ended) is closed by
	// its writer within moments; if it is still open two ticks later, the writer is
	// stuck on a peer that stopped reading: close it here.
	if select1(l.Session().Done()) || !l.Attached() {
		if wc.goneTicks++; wc.goneTicks >= 2 {
			wc.srv.log.Info("lifeline: websocket writer stalled after its session moved or ended", "remote", wc.r.RemoteAddr)
			wc.cancel()
			wc.c.CloseNow()
			return
		}
	} else {
		wc.goneTicks = 0
	}
	if now.Sub(time.Unix(0, wc.lastWrite.Load())) >= o.Heartbeat/2 {
		wc.needPing.Store(true)
		l.Poke()
	}
	time.AfterFunc(o.Heartbeat/2, wc.watch)
}

// select1 reports whether ch is closed (or ready), without blocking.
func select1(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
