package engine

import (
	"context"
	"errors"
	"unicode/utf8"

	"github.com/lifelinehq/lifeline/session"
	"github.com/lifelinehq/lifeline/transport"
)

// Requests (docs/protocol.md §16). A request, its reply and its failure are data
// frames: they take numbers in the session's sequence and wait in its queues like
// messages, so they inherit exactly-once, ordered delivery. Outbound, a Message of
// type typeCall holds the frame's whole text (Q, Y or X, id, SP, text) in Data and
// frame alike, so the writers send it as it is. Inbound, Deliver takes a Y or an X
// to the pending request at once (no Read is needed), and queues a Q for the answerer
// goroutines, its bytes counted in the inbound queue until an answerer takes it.

// typeCall is the type of a Message that is a request frame: Q, Y or X.
const typeCall session.MessageType = 3

// maxAnswering bounds the answerer goroutines of a session.
const maxAnswering = 16

// NoHandler is the error message of the X frame that answers a request no function
// was set to answer.
const NoHandler = "no request handler"

// call is a request this side made, pending until its Y or X arrives.
type call struct {
	payload []byte
	limit   int // the peer's message limit, when lower than the session's; 0: none
	id      uint64
	seq     uint64 // the number of its Q frame in the outbound sequence
	done    chan callResult
}

type callResult struct {
	p   []byte
	err error
}

// NotSentError is how a pending request fails when its session ends before its Q
// frame was handed to any connection: the request could go again on another session
// (the Go client does that after a reset). Its Error and Unwrap are those of the
// session's end, a *session.CloseError.
type NotSentError struct{ Err error }

func (e *NotSentError) Error() string { return e.Err.Error() }

// Unwrap returns the session's end.
func (e *NotSentError) Unwrap() error { return e.Err }

// Request sends p to the peer as a request (a Q frame) and returns its reply. It blocks
// while the outbound queue is full, then until the reply arrives, ctx is done
// (ctx.Err(); a later reply is ignored) or the session ends (its *session.CloseError,
// or a *NotSentError wrapping it when the request never went out). The peer's X frame
// is a *session.RequestError. A p that is not UTF-8 is session.ErrNotUTF8; a frame over
// the message limit, session.ErrTooLarge. A request refused because the session had
// ended fails with a *NotSentError too.
func (s *Session) Request(ctx context.Context, p []byte) ([]byte, error) {
	return s.RequestWithin(ctx, p, 0)
}

// RequestWithin is Request for a peer whose message limit, limit, may be lower than
// the session's own (the Go client learns the server's from its hello); 0: none.
func (s *Session) RequestWithin(ctx context.Context, p []byte, limit int) ([]byte, error) {
	if !utf8.Valid(p) {
		return nil, session.ErrNotUTF8
	}
	c := &call{payload: p, limit: limit, done: make(chan callResult, 1)}
	if err := s.enqueue(ctx, Message{Type: typeCall}, true, c); err != nil {
		if errors.Is(err, session.ErrClosed) {
			err = &NotSentError{err}
		}
		return nil, err
	}
	select {
	case r := <-c.done:
		return r.p, r.err
	case <-ctx.Done():
		s.mu.Lock()
		if s.pending[c.id] == c {
			delete(s.pending, c.id)
		}
		s.mu.Unlock()
		select {
		case r := <-c.done: // it was settled meanwhile
			return r.p, r.err
		default:
			return nil, ctx.Err()
		}
	}
}

// callFrameLocked makes c's Q frame with the next request id, or reports that it is
// over the message limit.
func (s *Session) callFrameLocked(c *call) (Message, error) {
	f := transport.AppendCall(nil, transport.FrameRequest, s.reqSent+1, c.payload)
	if len(f) > s.cfg.MaxMessage || (c.limit > 0 && len(f) > c.limit) {
		return Message{}, session.ErrTooLarge
	}
	return Message{Type: typeCall, Data: f, frame: f}, nil
}

// issueLocked records c, whose Q frame m was just queued, as pending.
func (s *Session) issueLocked(c *call) {
	s.reqSent++
	c.id = s.reqSent
	c.seq = s.outBase + uint64(len(s.out)-s.outHead) - 1
	if s.pending == nil {
		s.pending = make(map[uint64]*call)
	}
	s.pending[c.id] = c
}

// OnRequest sets the function that answers the peer's requests; nil leaves them
// waiting (with Config.HoldRequests) or answers them with NoHandler. Each request runs
// fn on an answerer goroutine, at most 16 at a time (more wait, in order); ctx ends
// when the session ends. fn's error goes back as an X frame with its message.
func (s *Session) OnRequest(fn func(ctx context.Context, req []byte) ([]byte, error)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.answer = fn
	if s.answerCtx == nil {
		s.answerCtx, s.answerStop = context.WithCancel(context.Background())
		if s.state == stateClosed {
			s.answerStop()
		}
	}
	for s.startAnswererLocked() {
	}
}

// startAnswererLocked starts an answerer goroutine if a request waits for one and
// fewer than maxAnswering run. It reports whether it started one.
func (s *Session) startAnswererLocked() bool {
	if s.asksHead == len(s.asks) || s.answering >= maxAnswering || s.state == stateClosed ||
		(s.answer == nil && s.cfg.HoldRequests) {
		return false
	}
	if s.answerCtx == nil {
		s.answerCtx, s.answerStop = context.WithCancel(context.Background())
	}
	s.answering++
	go s.answerLoop()
	return true
}

// answerLoop answers waiting requests, in order, until none waits or the session ends.
func (s *Session) answerLoop() {
	for {
		s.mu.Lock()
		m, ok := pop(&s.asks, &s.asksHead)
		if !ok || s.state == stateClosed {
			s.answering--
			s.mu.Unlock()
			return
		}
		s.inBytes -= len(m.Data)
		s.giveLocked(len(m.Data))
		signal(&s.inSpace)
		fn, ctx := s.answer, s.answerCtx
		s.mu.Unlock()
		f, _ := transport.ParseFrame(m.Data) // Deliver parsed it already
		reply := s.answerOne(ctx, fn, f.Num, f.Data)
		s.enqueue(ctx, reply, true, nil) // fails only once the session ends
	}
}

// answerOne runs fn for request id and returns its Y or X frame.
func (s *Session) answerOne(ctx context.Context, fn func(context.Context, []byte) ([]byte, error), id uint64, req []byte) Message {
	var p []byte
	err := errors.New(NoHandler)
	if fn != nil {
		p, err = fn(ctx, req)
	}
	switch {
	case err != nil:
		p = []byte(transport.Failure(err.Error()))
		if !utf8.Valid(p) {
			p = []byte("request failed (its error message is not UTF-8)")
		}
	case !utf8.Valid(p):
		err, p = session.ErrNotUTF8, []byte("reply is not UTF-8")
	}
	t := byte(transport.FrameReply)
	if err != nil {
		t = transport.FrameFailure
	}
	f := transport.AppendCall(nil, t, id, p)
	if len(f) > s.cfg.MaxMessage {
		f = transport.AppendCall(f[:0], transport.FrameFailure, id, []byte("reply over the size limit"))
	}
	return Message{Type: typeCall, Data: f, frame: f}
}

// checkCallLocked checks a request frame received (docs/protocol.md §16) before it
// is accepted, and returns it parsed.
func (s *Session) checkCallLocked(m Message) (transport.Frame, error) {
	f, err := transport.ParseFrame(m.Data)
	if err != nil {
		return f, &ProtocolError{err.Error()}
	}
	switch f.Type {
	case transport.FrameRequest:
		if f.Num <= s.reqRecv {
			return f, Protocolf("request id %d not above the previous one, %d", f.Num, s.reqRecv)
		}
	case transport.FrameReply, transport.FrameFailure:
		if f.Num > s.reqSent {
			return f, Protocolf("reply to request %d, never sent", f.Num)
		}
	default:
		return f, Protocolf("unexpected %q frame", f.Type)
	}
	return f, nil
}

// settleLocked hands a Y or X frame received to its pending request, if it still
// waits.
func (s *Session) settleLocked(f transport.Frame) {
	c := s.pending[f.Num]
	if c == nil {
		return // its requester gave up
	}
	delete(s.pending, f.Num)
	if f.Type == transport.FrameReply {
		c.done <- callResult{p: f.Data}
	} else {
		c.done <- callResult{err: &session.RequestError{Message: string(f.Data)}}
	}
}

// askLocked queues a request received for the answerers.
func (s *Session) askLocked(f transport.Frame, m Message) {
	s.reqRecv = f.Num
	push(&s.asks, &s.asksHead, m)
	s.inBytes += len(m.Data)
	s.startAnswererLocked()
}

// endCallsLocked fails every pending request with the session's end, and stops the
// answerers.
func (s *Session) endCallsLocked() {
	err := s.endErrLocked()
	for id, c := range s.pending {
		if c.seq > s.pulled {
			c.done <- callResult{err: &NotSentError{err}}
		} else {
			c.done <- callResult{err: err}
		}
		delete(s.pending, id)
	}
	for _, m := range s.asks[s.asksHead:] {
		s.inBytes -= len(m.Data)
	}
	clear(s.asks)
	s.asks, s.asksHead = nil, 0
	if s.answerStop != nil {
		s.answerStop()
	}
}

// callText is a request frame received, as the session keeps it: its whole text, in
// an array of its own.
func callText(f transport.Frame) []byte {
	return transport.AppendCall(nil, f.Type, f.Num, f.Data)
}

// UnackedMessages returns how many messages (requests, replies and failures not
// counted) written to the session the peer has not acknowledged; once the session has
// ended, how many there were when it ended: what was lost with it.
func (s *Session) UnackedMessages() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state == stateClosed {
		return s.lost
	}
	return s.unackedMessagesLocked()
}

func (s *Session) unackedMessagesLocked() int {
	n := 0
	for _, m := range s.out[s.outHead:] {
		if m.Type != typeCall {
			n++
		}
	}
	return n
}
