package engine

import (
	"sync/atomic"
	"time"

	"github.com/lifelinehq/lifeline/session"
	"github.com/lifelinehq/lifeline/transport"
)

// Link is one transport connection attached to a session. The transport that owns it
// asks Pull what to send, waits on Wake for more, and calls Detach when its connection
// ends. At most one Link of a session is attached; attaching another detaches the
// previous one. A Link is used by its transport's goroutines; its methods are safe
// for concurrent use.
type Link struct {
	s    *Session
	name string
	conn uint64
	acks bool // acks for the peer travel on this link's downlink
	next uint64

	wake   chan struct{} // buffered 1: there may be something to pull
	notify atomic.Pointer[func(inline bool)]
	gone   chan struct{} // closed when detached
	why    error         // why it was detached, set before gone is closed

	closeSent bool
}

// Batch is what a transport sends next, filled in by Link.Pull.
type Batch struct {
	Seq    uint64    // number of Msgs[0]
	Msgs   []Message // messages to send, in order
	Ack    uint64    // ack to send, when HasAck
	HasAck bool
	// Ping, when set, asks for a P frame after Msgs (and before Close): a graceful
	// close is waiting for the peer's acks, which a P makes the peer send at once.
	Ping bool
	// Close, when set, is the close frame to send after Msgs; the connection then ends.
	Close *session.CloseError
	// Gone, when set, means the link is detached (superseded, or the peer closed the
	// session): end the connection without sending more.
	Gone error
}

// Attach attaches a new transport connection, named for the counters ("websocket",
// "stream", "poll"), numbered conn by the client (docs/protocol.md §5), whose peer holds
// every message up to peerAck. With acks set, acks for the peer are pulled on this link.
// A connection must be numbered above the attached one, or it is refused with
// ErrSuperseded. With no link attached, the number and name of the last one may come
// again (the next poll of a run); a lower number is refused. Attach returns the link and the
// highest message number received from the peer, for the hello.
func (s *Session) Attach(name string, conn, peerAck uint64, acks bool) (*Link, uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state == stateClosed {
		return nil, 0, s.endErrLocked()
	}
	if conn > transport.MaxNum || peerAck > transport.MaxNum {
		return nil, 0, ErrProtocol // beyond what a peer may send (docs/protocol.md §10)
	}
	cur := s.link
	if (cur != nil && conn <= cur.conn) ||
		(s.lastName != "" && (conn < s.lastConn || (conn == s.lastConn && name != s.lastName))) {
		return nil, 0, ErrSuperseded
	}
	if err := s.ackedLocked(peerAck); err != nil {
		return nil, 0, err
	}
	l := &Link{s: s, name: name, conn: conn, acks: acks, wake: make(chan struct{}, 1), gone: make(chan struct{})}
	if cur != nil {
		cur.detachLocked(ErrSuperseded)
	}
	s.link = l
	if conn != s.lastConn || name != s.lastName {
		s.runAck = peerAck // a new connection, or a new run of polls
	}
	s.lastConn, s.lastName = conn, name
	s.transport.Store(&l.name)
	s.armLocked()
	s.Touch()
	l.next = max(peerAck+1, s.outBase)
	s.ackSent = s.inSeq // the hello carries it
	s.ackDue = false
	l.poke()
	return l, s.inSeq, nil
}

// Told corrects what the peer has been told it holds, when the request that carried
// the ack (a resume, on the client side) went out before the last messages arrived:
// Attach assumed the peer knows everything received. Acks for the rest become due.
func (l *Link) Told(n uint64) {
	s := l.s
	s.mu.Lock()
	due := s.link == l && n < s.ackSent
	if due {
		s.ackSent, s.ackDue = n, true
	}
	s.mu.Unlock()
	if due {
		l.poke()
	}
}

// Name returns the transport name the link was attached with.
func (l *Link) Name() string { return l.name }

// Wake receives when there may be something to pull.
func (l *Link) Wake() <-chan struct{} { return l.wake }

// Gone is closed when the link has been detached.
func (l *Link) Gone() <-chan struct{} { return l.gone }

// Session returns the link's session.
func (l *Link) Session() *Session { return l.s }

func (l *Link) poke() { l.wakeUp(false) }

// wakeUp signals Wake and calls the OnWake func, telling it inline when the caller holds
// no lock and may block on a write (a blocking Session.Write with little unacknowledged,
// the ack timer): the transport may then write on the caller's goroutine.
func (l *Link) wakeUp(inline bool) {
	select {
	case l.wake <- struct{}{}:
	default:
	}
	if fn := l.notify.Load(); fn != nil {
		(*fn)(inline)
	}
}

// Poke wakes the link's transport as if there were something to pull (a heartbeat
// to send, say). It never writes on the caller's goroutine.
func (l *Link) Poke() { l.poke() }

// OnWake makes the link call fn, besides signalling Wake, whenever there may be
// something to pull, and calls it once now, inline (the caller holds no lock and may
// wait for a write: what a resume has to send may go out at once). fn must not block when
// inline is false; it may then be called with the session's lock held, so it must not
// call the session. When inline is true the caller holds no lock and may wait for a
// write: fn may Pull and write on the caller's goroutine. It lets a transport write on
// the caller's goroutine when nothing is queued, and run a writer goroutine only for
// a backlog, rather than park a goroutine on Wake.
func (l *Link) OnWake(fn func(inline bool)) {
	l.notify.Store(&fn)
	fn(true)
}

// Pull fills b with what to send next: at most maxMsgs messages and, past the first,
// at most maxBytes of payload; a due ack (or any unsent one, with forceAck); a close.
// b.Msgs is reused. The messages' payloads must not be changed.
func (l *Link) Pull(b *Batch, maxMsgs, maxBytes int, forceAck bool) {
	s := l.s
	b.Msgs = b.Msgs[:0]
	b.Seq, b.Ack, b.HasAck, b.Ping, b.Close, b.Gone = 0, 0, false, false, nil, nil
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.link != l {
		b.Gone = l.why
		if b.Gone == nil {
			b.Gone = ErrSuperseded
		}
		return
	}
	if s.state == stateClosed {
		switch {
		case s.closeErr.Remote:
			b.Gone = s.closeErr
		case !l.closeSent:
			b.Close = s.closeErr
			l.closeSent = true
		default:
			b.Gone = s.closeErr
		}
		return
	}
	if l.next < s.outBase {
		l.next = s.outBase // the peer acked past what this link sent (it got it earlier)
	}
	if i := l.next - s.outBase; i < uint64(len(s.out)-s.outHead) {
		b.Seq = l.next
		bytes := 0
		for _, m := range s.out[s.outHead+int(i):] {
			if len(b.Msgs) == maxMsgs || (len(b.Msgs) > 0 && bytes+len(m.Data) > maxBytes) {
				break
			}
			b.Msgs = append(b.Msgs, m)
			bytes += len(m.Data)
		}
		l.next += uint64(len(b.Msgs))
		s.pulled = max(s.pulled, l.next-1)
	}
	if l.acks && (s.ackDue || forceAck) && s.inSeq > s.ackSent {
		b.Ack, b.HasAck = s.inSeq, true
		s.ackSent = s.inSeq
		if s.ackRiding { // it rode: its timer would send the next ack too early
			s.ackTimer.Stop()
			s.ackArmed, s.ackRiding = false, false
		}
	}
	s.ackDue = false
	if n := uint64(len(s.out) - s.outHead); s.closePing && n > 0 && l.next-s.outBase == n {
		b.Ping, s.closePing = true, false // everything is out: ask for the acks
	}
	if s.state == stateClosing && s.outHead == len(s.out) && !l.closeSent {
		b.Close = s.closeErr
		l.closeSent = true
	}
}

// More reports whether messages are waiting that Pull has not handed out yet.
func (l *Link) More() bool {
	s := l.s
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.link == l && max(l.next, s.outBase)-s.outBase < uint64(len(s.out)-s.outHead)
}

// CloseSent tells the session the close frame from Pull went out: a graceful close
// is then complete.
func (l *Link) CloseSent() {
	s := l.s
	s.mu.Lock()
	var fns []func()
	if s.state == stateClosing {
		s.finishLocked(nil)
		fns = s.takeOnEndLocked()
	}
	s.mu.Unlock()
	for _, fn := range fns {
		fn()
	}
}

// Detach ends the link because its connection ended. The session stays, waiting for
// a resume.
func (l *Link) Detach() {
	s := l.s
	s.mu.Lock()
	if s.link == l {
		s.link = nil
		l.detachLocked(nil)
		s.armLocked()
	}
	s.mu.Unlock()
}

// Attached reports whether the link is still the session's current one.
func (l *Link) Attached() bool {
	s := l.s
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.link == l
}

func (l *Link) detachLocked(why error) {
	select {
	case <-l.gone:
		return
	default:
	}
	l.why = why
	close(l.gone)
	l.poke()
}

// Attached reports whether a connection is attached to the session.
func (s *Session) Attached() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.link != nil
}

// LastConn returns the number of the connection attached last (docs/protocol.md §5).
func (s *Session) LastConn() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastConn
}

// Hold claims the session's one outstanding poll (docs/protocol.md §8) for a poll of
// connection conn. It reports false while a poll of the same or a newer connection
// holds it; a poll of a newer connection takes it over (the older poll is superseded
// when the newer one attaches). It also reports false for a conn beyond what a peer
// may send (transport.MaxNum), which the holder is stored as conn+1 could not hold.
// Release gives it back.
func (s *Session) Hold(conn uint64) bool {
	if conn > transport.MaxNum {
		return false
	}
	for {
		h := s.polling.Load()
		if h != 0 && h-1 >= conn {
			return false
		}
		if s.polling.CompareAndSwap(h, conn+1) {
			return true
		}
	}
}

// RunAck returns the ack that the first request of the attached connection (or run
// of polls) carried. A later poll of the run with this ack may be a second copy of
// that request, whose answer lacked nothing but the hello: the server greets it again.
func (s *Session) RunAck() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.runAck
}

// Release ends a Hold of connection conn.
func (s *Session) Release(conn uint64) { s.polling.CompareAndSwap(conn+1, 0) }

// Rewind makes the next Pull hand out messages again from number to, or from the
// oldest one the peer has not acknowledged if that is later: what a request that
// failed, or that the peer took only in part, carried goes again (the peer drops what
// it already holds).
func (l *Link) Rewind(to uint64) {
	s := l.s
	s.mu.Lock()
	if s.link == l {
		l.next = min(l.next, max(to, s.outBase))
	}
	s.mu.Unlock()
}

// PollBusyHold is how long the server holds a poll that follows a poll answer that
// carried something: a held poll keeps one of the browser's few connections per host
// busy (six on HTTP/1.1, shared by every tab), so a session that is busy gives it
// back often (docs/protocol.md §6).
const PollBusyHold = 500 * time.Millisecond

// PollHold returns how long to hold the next poll with nothing to send: def (the
// heartbeat), or shorter once a held poll was cut (PollCut) and the client polled again,
// which says an intermediary times out held requests (docs/protocol.md §6): three
// quarters of the cut poll's hold, and never under least. After an answer that carried
// something (PollAnswered) it is at most PollBusyHold, doubling for each quiet answer
// since.
func (s *Session) PollHold(def, least time.Duration) time.Duration {
	if cut := s.pollCut.Swap(0); cut > 0 {
		s.pollHold.Store(int64(max(time.Duration(cut)*3/4, least)))
	}
	h := def
	if l := time.Duration(s.pollHold.Load()); l > 0 && l < h {
		h = l
	}
	if q := s.pollQuiet.Load(); q > 0 && q < 32 {
		h = min(h, PollBusyHold<<(q-1))
	}
	return h
}

// PollAnswered records what a poll's answer carried: carried is false for a quiet
// answer (a P because the hold passed with nothing to send), true for anything else
// (a hello, messages, a close). See PollHold.
func (s *Session) PollAnswered(carried bool) {
	if carried {
		s.pollQuiet.Store(1)
	} else if q := s.pollQuiet.Load(); q > 0 && q < 32 {
		s.pollQuiet.Store(q + 1)
	}
}

// PollCut records that a poll held for held ended before the server answered it (the
// client or something between gave up on it). Cuts of polls held under least teach
// nothing.
func (s *Session) PollCut(held, least time.Duration) {
	if held >= least {
		s.pollCut.Store(int64(held))
	}
}
