// Package engine is Lifeline's protocol engine, shared by the server and the Go
// client: the session (one ordered, acknowledged, resumable stream of messages in
// each direction, docs/protocol.md §5) and the Link through which whichever transport
// connection is attached at the moment moves its frames. Applications use package
// session, which wraps an engine Session with the calls a handler needs.
package engine

import (
	"context"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lifelinehq/lifeline/closecode"
	"github.com/lifelinehq/lifeline/internal/api"
	"github.com/lifelinehq/lifeline/session"
	"github.com/lifelinehq/lifeline/transport"
)

// Message is one message with its payload. Payloads handed to a Session are not
// changed by it, and must not be changed by whoever handed them over.
type Message struct {
	Type session.MessageType
	Data []byte
	// frame, when set, is the text message's WebSocket frame: 'M' then Data, in one
	// array (Data is frame[1:]). WSWriter sends it as it is, without a copy.
	frame []byte
}

// Copy returns a message holding a copy of p: for a text message, made with room for
// its WebSocket frame, so that neither a session's writer nor the writers of the many
// sessions a broadcast reaches encode it again.
func Copy(typ session.MessageType, p []byte) Message {
	if typ != session.Text {
		return Message{Type: typ, Data: append([]byte(nil), p...)}
	}
	f := make([]byte, 1+len(p))
	f[0] = transport.FrameText
	copy(f[1:], p)
	return Message{Type: typ, Data: f[1:], frame: f}
}

// Config sets a session's limits. The zero value works: every field documents its
// default.
type Config struct {
	// MaxMessage bounds one message's payload in bytes. Default 65536.
	MaxMessage int
	// MaxQueued bounds the bytes held in each direction: messages sent but not yet
	// acknowledged by the peer, and messages received but not yet read. Default 1 MiB.
	MaxQueued int
	// AckEvery is how many unacknowledged received messages make an ack due at once.
	// Default 32.
	AckEvery int
	// AckDelay is how long after the first unacknowledged message an ack becomes due;
	// under load AckEvery and a quarter of MaxQueued make it due sooner. Default 1 s.
	AckDelay time.Duration
	// AckJitter, when positive, adds a random extra of up to AckJitter to each
	// AckDelay, so that receivers that got one broadcast together do not all ack it
	// together. Default 0.
	AckJitter time.Duration
	// ResumeWindow is how long a confirmed session lives with no connection attached
	// before it ends with code 4410. Zero: forever (what a client wants).
	ResumeWindow time.Duration
	// HandshakeTimeout is how long a session may stay unconfirmed (docs/protocol.md §3)
	// before it ends with code 4410. Zero: forever.
	HandshakeTimeout time.Duration
	// HoldRequests makes requests from the peer that arrive before OnRequest wait for
	// it, in order, counted against MaxQueued (the server's handler sets its answerer
	// once it runs). False: they are answered with an X frame, NoHandler.
	HoldRequests bool
	// Budget, when set, bounds what all the sessions sharing it hold queued together:
	// a message waits to be queued, in either direction, until it fits in both
	// MaxQueued and the budget. Nil: no budget.
	Budget *Budget
}

func (c Config) withDefaults() Config {
	if c.MaxMessage <= 0 {
		c.MaxMessage = 65536
	}
	if c.MaxQueued <= 0 {
		c.MaxQueued = 1 << 20
	}
	if c.AckEvery <= 0 {
		c.AckEvery = 32
	}
	if c.AckDelay <= 0 {
		c.AckDelay = time.Second
	}
	return c
}

// inlineMaxUnacked bounds the unacknowledged bytes with which a blocking Write may
// write on the caller's goroutine: well under what the kernel's socket buffers hold,
// so the caller does not wait on a peer that stopped reading.
const inlineMaxUnacked = 64 << 10

const (
	stateOpen    = iota
	stateClosing // local graceful close: flushing, then C
	stateClosed
)

// Session is one Lifeline session. All its methods are safe for concurrent use.
type Session struct {
	id    string
	token string
	cfg   Config

	pub       *session.Session // what the handler gets
	identity  atomic.Value     // any, boxed
	transport atomic.Pointer[string]

	mu       sync.Mutex
	state    int
	closeErr *session.CloseError
	done     chan struct{}

	// outbound: every message sent and not yet acknowledged: out[outHead+i] has number
	// outBase+i. The slices keep their arrays between bursts (no allocation per message).
	out      []Message
	outHead  int
	outBase  uint64
	outBytes int
	space    chan struct{} // closed when outbound space frees; nil while nobody waits

	// inbound: received, not yet read: in[inHead:].
	in       []Message
	inHead   int
	inBytes  int
	inSeq    uint64        // highest number accepted
	ackSent  uint64        // highest ack handed to a link
	ready    chan struct{} // buffered 1: inbound data or the end
	inSpace  chan struct{}
	ackTimer *time.Timer
	ackArmed bool // ackTimer is running
	ackDue   bool
	// ackRiding: a due ack waits for outgoing data to ride on; ackTimer is set to ackRide
	ackRiding bool
	// closePing: a graceful close began with messages unacknowledged; the next Pull
	// that has sent them all asks the transport for a P.
	closePing bool

	// requests (request.go): ids this side issued and received, pending requests,
	// received requests waiting for an answerer (asks[asksHead:], counted in inBytes)
	reqSent    uint64
	reqRecv    uint64
	pending    map[uint64]*call
	asks       []Message
	asksHead   int
	answering  int // answerer goroutines running
	answer     func(context.Context, []byte) ([]byte, error)
	answerCtx  context.Context // ends with the session
	answerStop context.CancelFunc
	pulled     uint64 // the highest message number any link has pulled
	lost       int    // messages unacknowledged when the session ended

	link     *Link
	lastConn uint64 // number and name of the last attached connection
	lastName string
	runAck   uint64 // the peer's ack when the last connection or run of polls began

	confirmed bool
	budgeted  bool        // in and out are taken from cfg.Budget: false once the end gave them back
	expiry    *time.Timer // handshake timeout, then resume window while detached
	onEnd     []func()
	heard     atomic.Int64  // unix ns when the peer was last heard from
	polling   atomic.Uint64 // 1 + the connection number holding the poll, or 0
	pollHold  atomic.Int64  // ns: the learned poll hold (PollHold), 0 for the default
	pollCut   atomic.Int64  // ns a poll was held before something cut it, 0 for none
	pollQuiet atomic.Int32  // 1 + quiet poll answers since one carried something; 0: none carried yet
}

// New returns an open session with the given public id and secret token.
func New(id, token string, cfg Config) *Session {
	s := &Session{id: id, token: token, cfg: cfg.withDefaults(), outBase: 1, done: make(chan struct{}),
		ready: make(chan struct{}, 1), budgeted: true}
	s.pub = api.Wrap(s).(*session.Session)
	if s.cfg.HandshakeTimeout > 0 {
		s.mu.Lock() // the timer may fire before the assignment
		s.expiry = time.AfterFunc(s.cfg.HandshakeTimeout, s.expire)
		s.mu.Unlock()
	}
	s.Touch()
	return s
}

func (s *Session) expire() { s.CloseNow(closecode.Expired, "session expired") }

// Confirm marks the session confirmed (docs/protocol.md §3). It reports true only the
// first time, when the application's handler should start.
func (s *Session) Confirm() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.confirmed || s.state == stateClosed {
		return false
	}
	s.confirmed = true
	s.armLocked()
	return true
}

// armLocked sets the expiry timer for the session's state: the handshake timeout runs
// until confirmation; after it, the resume window runs while no link is attached.
func (s *Session) armLocked() {
	if !s.confirmed || s.state == stateClosed {
		return
	}
	if s.link != nil || s.cfg.ResumeWindow <= 0 {
		if s.expiry != nil {
			s.expiry.Stop()
		}
		return
	}
	if s.expiry == nil {
		s.expiry = time.AfterFunc(s.cfg.ResumeWindow, s.expire)
	} else {
		s.expiry.Reset(s.cfg.ResumeWindow)
	}
}

// OnEnd registers fn to run once, in its own goroutine-free call, after the session
// ends (at once if it has ended). fn must not block.
func (s *Session) OnEnd(fn func()) {
	s.mu.Lock()
	if s.state != stateClosed {
		s.onEnd = append(s.onEnd, fn)
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	fn()
}

// Touch records that the peer was heard from now.
func (s *Session) Touch() { s.heard.Store(time.Now().UnixNano()) }

// Heard returns when the peer was last heard from (Touch, Attach).
func (s *Session) Heard() time.Time { return time.Unix(0, s.heard.Load()) }

// Public returns the handler's view of the session: the same *session.Session for
// the session's whole life.
func (s *Session) Public() *session.Session { return s.pub }

// ID returns the public session id.
func (s *Session) ID() string { return s.id }

// Token returns the secret token that grants the session.
func (s *Session) Token() string { return s.token }

// Config returns the session's limits, with defaults filled in.
func (s *Session) Config() Config { return s.cfg }

// Identity returns what the authenticator attached to the session, or nil.
func (s *Session) Identity() any {
	if b, ok := s.identity.Load().(box); ok {
		return b.v
	}
	return nil
}

type box struct{ v any }

// SetIdentity replaces the identity (the server calls it on creation and on resume).
func (s *Session) SetIdentity(v any) { s.identity.Store(box{v}) }

// Transport returns the name of the transport last attached ("websocket", "stream",
// "poll"), or "" before the first.
func (s *Session) Transport() string {
	if p := s.transport.Load(); p != nil {
		return *p
	}
	return ""
}

// Done is closed when the session has ended.
func (s *Session) Done() <-chan struct{} { return s.done }

// Err returns how the session ended (a *session.CloseError), or nil while it is open.
func (s *Session) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state != stateClosed {
		return nil
	}
	return s.closeErr
}

// Read returns the next message. It blocks until one arrives, the session ends
// (a *session.CloseError, after every message received before the end has been read), or ctx
// is done. The returned payload belongs to the caller.
func (s *Session) Read(ctx context.Context) (session.MessageType, []byte, error) {
	for {
		s.mu.Lock()
		if m, ok := pop(&s.in, &s.inHead); ok {
			s.inBytes -= len(m.Data)
			s.giveLocked(len(m.Data))
			signal(&s.inSpace)
			if s.inHead < len(s.in) {
				kick(s.ready) // more for another reader
			}
			s.mu.Unlock()
			return m.Type, m.Data, nil
		}
		if s.state != stateOpen {
			err := s.endErrLocked()
			s.mu.Unlock()
			kick(s.ready)
			return 0, nil, err
		}
		s.mu.Unlock()
		select {
		case <-s.ready:
		case <-ctx.Done():
			return 0, nil, ctx.Err()
		}
	}
}

// Write queues a message for the peer. It copies p. It blocks while the outbound
// queue is full (until the peer acknowledges, the session ends, or ctx is done). With
// little unacknowledged it tells the link's OnWake func it may write on the caller's
// goroutine (inline).
func (s *Session) Write(ctx context.Context, typ session.MessageType, p []byte) error {
	return s.WriteMessage(ctx, Copy(typ, p))
}

// WriteMessage is Write without the copy: m.Data must not change afterwards. It lets
// one payload be shared by many sessions (broadcast).
func (s *Session) WriteMessage(ctx context.Context, m Message) error {
	return s.write(ctx, m, true)
}

// TryWrite is Write that never blocks: with the queue full it returns
// session.ErrQueueFull and queues nothing.
func (s *Session) TryWrite(typ session.MessageType, p []byte) error {
	return s.TryWriteMessage(Copy(typ, p))
}

// TryWriteMessage is WriteMessage that never blocks: with the queue full it returns
// session.ErrQueueFull and queues nothing.
func (s *Session) TryWriteMessage(m Message) error { return s.write(context.Background(), m, false) }

func (s *Session) write(ctx context.Context, m Message, block bool) error {
	if m.Type != session.Text && m.Type != session.Binary {
		return ErrProtocol
	}
	return s.enqueue(ctx, m, block, nil)
}

// enqueue queues m for the peer, or, when c is set, c's request (m is then made under
// the lock, since the request id goes in the frame).
func (s *Session) enqueue(ctx context.Context, m Message, block bool, c *call) error {
	if len(m.Data) > s.cfg.MaxMessage {
		return session.ErrTooLarge
	}
	for {
		s.mu.Lock()
		if s.state != stateOpen {
			err := s.endErrLocked()
			s.mu.Unlock()
			return err
		}
		if c != nil {
			var err error
			if m, err = s.callFrameLocked(c); err != nil {
				s.mu.Unlock()
				return err
			}
		}
		fits, budget := s.roomLocked(s.outHead == len(s.out), s.outBytes, len(m.Data))
		if fits {
			push(&s.out, &s.outHead, m)
			s.outBytes += len(m.Data)
			if c != nil {
				s.issueLocked(c)
			}
			l := s.link
			// A blocking write may go out on the caller's goroutine, unless so much is
			// unacknowledged that the peer may not be reading (the socket's buffers
			// could be full: the caller would wait for a network write).
			inline := block && s.outBytes <= inlineMaxUnacked
			s.mu.Unlock()
			if l != nil {
				l.wakeUp(inline)
			}
			return nil
		}
		if !block {
			s.mu.Unlock()
			return session.ErrQueueFull
		}
		ch := waiter(&s.space)
		s.mu.Unlock()
		select {
		case <-ch:
		case <-budget: // nil unless the budget is what is full
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Close ends the session gracefully: messages already written are still delivered,
// then the peer is told code and reason. Writes fail from now on; Read returns what was
// already received, then session.ErrClosed. Safe to call more than once; only the first counts.
func (s *Session) Close(code closecode.Code, reason string) error {
	s.mu.Lock()
	if s.state != stateOpen {
		s.mu.Unlock()
		return nil
	}
	s.state = stateClosing
	s.closeErr = &session.CloseError{Code: code, Reason: reason}
	s.closePing = s.outHead < len(s.out)
	kick(s.ready)
	signal(&s.space)
	l := s.link
	s.mu.Unlock()
	if l != nil {
		l.poke()
	}
	return nil
}

// CloseNow ends the session at once with code and reason: queued messages are dropped,
// an attached transport tells the peer the code, and blocked calls return. Safe to
// call more than once; only the first counts.
func (s *Session) CloseNow(code closecode.Code, reason string) {
	s.end(&session.CloseError{Code: code, Reason: reason})
}

// PeerClosed ends the session because the peer sent a close frame.
func (s *Session) PeerClosed(code closecode.Code, reason string) {
	s.end(&session.CloseError{Code: code, Reason: reason, Remote: true})
}

func (s *Session) end(ce *session.CloseError) {
	s.mu.Lock()
	if s.state == stateClosed {
		s.mu.Unlock()
		return
	}
	s.finishLocked(ce)
	l := s.link
	fns := s.takeOnEndLocked()
	s.mu.Unlock()
	if l != nil {
		l.poke()
	}
	for _, fn := range fns {
		fn()
	}
}

func (s *Session) takeOnEndLocked() []func() {
	fns := s.onEnd
	s.onEnd = nil
	return fns
}

// finishLocked moves the session to closed and wakes every waiter.
// A local graceful close keeps its own code unless the peer's close overtakes it.
func (s *Session) finishLocked(ce *session.CloseError) {
	if ce != nil && (s.closeErr == nil || ce.Remote) {
		s.closeErr = ce
	}
	s.state = stateClosed
	s.giveLocked(s.inBytes + s.outBytes)
	s.budgeted = false // what the handler still reads was given back just now
	s.lost = s.unackedMessagesLocked()
	clear(s.out)
	s.out, s.outHead, s.outBytes = nil, 0, 0
	if s.ackTimer != nil {
		s.ackTimer.Stop()
	}
	if s.expiry != nil {
		s.expiry.Stop()
	}
	s.endCallsLocked()
	kick(s.ready)
	signal(&s.space)
	signal(&s.inSpace)
	close(s.done)
}

// endErrLocked is the error calls get once the session is not open.
func (s *Session) endErrLocked() error {
	if s.closeErr != nil {
		return s.closeErr
	}
	return session.ErrClosed
}

// Acked processes a cumulative ack from the peer: messages up to n are released.
func (s *Session) Acked(n uint64) error {
	s.mu.Lock()
	err := s.ackedLocked(n)
	var l *Link
	if s.state == stateClosing && s.outHead == len(s.out) {
		l = s.link // the close frame can go now
	}
	s.mu.Unlock()
	if l != nil {
		l.poke()
	}
	return err
}

func (s *Session) ackedLocked(n uint64) error {
	if n < s.outBase {
		return nil // old news
	}
	k := int(n - s.outBase + 1)
	if n-s.outBase+1 > uint64(len(s.out)-s.outHead) {
		if s.state == stateClosed {
			return nil
		}
		return ErrProtocol // acks a message never sent
	}
	acked := s.out[s.outHead : s.outHead+k]
	n0 := s.outBytes
	for i := range acked {
		s.outBytes -= len(acked[i].Data)
	}
	s.giveLocked(n0 - s.outBytes)
	clear(acked)
	if s.outHead += k; s.outHead == len(s.out) {
		s.out, s.outHead = s.out[:0], 0
	}
	s.outBase = n + 1
	signal(&s.space)
	return nil
}

// Deliver hands the session the received message numbered seq; the session owns m.Data
// from now on. A number already held is a duplicate and is ignored (false, nil); a
// number past the next is ErrProtocol. With the inbound queue full, Deliver waits for
// the reader when wait is true (until ctx is done) and returns session.ErrQueueFull otherwise.
func (s *Session) Deliver(ctx context.Context, seq uint64, m Message, wait bool) (bool, error) {
	if len(m.Data) > s.cfg.MaxMessage {
		return false, session.ErrTooLarge
	}
	for {
		s.mu.Lock()
		if seq <= s.inSeq {
			s.mu.Unlock()
			return false, nil
		}
		if seq > s.inSeq+1 {
			s.mu.Unlock()
			return false, ErrProtocol
		}
		if s.state == stateClosed {
			err := s.endErrLocked()
			s.mu.Unlock()
			return false, err
		}
		var call transport.Frame
		if m.Type == typeCall {
			var err error
			if call, err = s.checkCallLocked(m); err != nil {
				s.mu.Unlock()
				return false, err
			}
		}
		fits, budget := true, chan struct{}(nil)
		if call.Type != transport.FrameReply && call.Type != transport.FrameFailure {
			fits, budget = s.roomLocked(s.inHead == len(s.in) && s.asksHead == len(s.asks), s.inBytes, len(m.Data))
		}
		if fits {
			switch call.Type {
			case 0:
				push(&s.in, &s.inHead, m)
				s.inBytes += len(m.Data)
				kick(s.ready)
			case transport.FrameRequest:
				s.askLocked(call, m)
			default:
				s.settleLocked(call)
			}
			s.inSeq = seq
			l := s.ackPolicyLocked()
			s.mu.Unlock()
			if l != nil {
				l.poke()
			}
			return true, nil
		}
		if !wait {
			s.mu.Unlock()
			return false, session.ErrQueueFull
		}
		ch := waiter(&s.inSpace)
		s.mu.Unlock()
		select {
		case <-ch:
		case <-budget: // nil unless the budget is what is full
		case <-ctx.Done():
			return false, ctx.Err()
		}
	}
}

// giveLocked gives n queued bytes back to the budget, unless the session's end gave
// back everything already.
func (s *Session) giveLocked(n int) {
	if s.budgeted {
		s.cfg.Budget.give(n)
	}
}

// Received returns the highest message number accepted from the peer.
func (s *Session) Received() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.inSeq
}

// Unacked returns how many messages written to the session the peer has not yet
// acknowledged (sent or still queued).
func (s *Session) Unacked() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.out) - s.outHead
}

// PeerPinged tells the session the peer sent P: whatever it has received and not yet
// acknowledged is acknowledged at once (docs/protocol.md §5), not after AckDelay.
func (s *Session) PeerPinged() {
	s.mu.Lock()
	var l *Link
	if s.inSeq > s.ackSent && s.link != nil && s.link.acks && s.state != stateClosed {
		s.ackDue, l = true, s.link
	}
	s.mu.Unlock()
	if l != nil {
		l.poke()
	}
}

// ackPolicyLocked decides whether an ack is due now or later (docs/protocol.md §5)
// and returns the link to wake when it is due now.
func (s *Session) ackPolicyLocked() *Link {
	l := s.link
	if l == nil || !l.acks {
		return nil
	}
	if s.inBytes >= s.cfg.MaxQueued/4 {
		s.ackDue = true
		return l
	}
	if s.inSeq-s.ackSent >= uint64(s.cfg.AckEvery) {
		// Due: the next Pull takes it along with whatever goes out (a reply, usually,
		// written moments later), so no write of its own wakes for it; if nothing goes
		// within ackRide, the timer sends it alone.
		if !s.ackDue || !s.ackRiding {
			s.ackDue, s.ackRiding = true, true
			s.armAckLocked(ackRide)
		}
		return nil
	}
	if !s.ackArmed && !s.ackDue {
		s.ackRiding = false
		s.armAckLocked(s.cfg.AckWait())
	}
	return nil
}

// AckWait returns how long an ack waits after the first unacknowledged message:
// AckDelay plus, with AckJitter, a random part of it.
func (c Config) AckWait() time.Duration {
	if c.AckJitter > 0 {
		return c.AckDelay + rand.N(c.AckJitter)
	}
	return c.AckDelay
}

// ackRide is how long an ack due by count (AckEvery) waits for outgoing data to ride
// on before it is sent alone.
const ackRide = 5 * time.Millisecond

func (s *Session) armAckLocked(d time.Duration) {
	s.ackArmed = true
	if s.ackTimer == nil {
		s.ackTimer = time.AfterFunc(d, s.ackTimeout)
	} else {
		s.ackTimer.Reset(d)
	}
}

func (s *Session) ackTimeout() {
	s.mu.Lock()
	s.ackArmed, s.ackRiding = false, false
	l := s.link
	due := s.inSeq > s.ackSent && s.state != stateClosed
	if due {
		s.ackDue = true
	}
	s.mu.Unlock()
	if due && l != nil {
		l.wakeUp(true) // the timer's own goroutine may write the ack
	}
}

// push appends m to the queue q[*head:], moving the live part to the front rather
// than growing the array when the dead prefix is what fills it.
func push(q *[]Message, head *int, m Message) {
	if len(*q) == cap(*q) && *head > 0 {
		n := copy(*q, (*q)[*head:])
		clear((*q)[n:])
		*q, *head = (*q)[:n], 0
	}
	*q = append(*q, m)
}

// pop takes the first message of the queue q[*head:].
func pop(q *[]Message, head *int) (Message, bool) {
	if *head == len(*q) {
		return Message{}, false
	}
	m := (*q)[*head]
	(*q)[*head] = Message{}
	if *head++; *head == len(*q) {
		*q, *head = (*q)[:0], 0
	}
	return m, true
}

// kick wakes one waiter on a buffered-1 channel, if none is pending already.
func kick(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// waiter returns the channel to wait on for *ch's event, making it if needed.
func waiter(ch *chan struct{}) chan struct{} {
	if *ch == nil {
		*ch = make(chan struct{})
	}
	return *ch
}

// signal wakes everyone waiting on *ch.
func signal(ch *chan struct{}) {
	if *ch != nil {
		close(*ch)
		*ch = nil
	}
}

// roomLocked reports whether n more bytes fit a queue holding queued bytes (an empty
// queue takes any one message) and the server-wide budget, and takes them from the
// budget when they do. When the budget is what is full it also returns the channel
// that tells when some is given back.
func (s *Session) roomLocked(empty bool, queued, n int) (bool, chan struct{}) {
	if !empty && queued+n > s.cfg.MaxQueued {
		return false, nil
	}
	if s.cfg.Budget.take(n) {
		return true, nil
	}
	budget := s.cfg.Budget.wait()
	return s.cfg.Budget.take(n), budget // given back meanwhile, or wait on budget
}
