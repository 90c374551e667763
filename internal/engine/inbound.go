package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lifelinehq/lifeline/closecode"
	"github.com/lifelinehq/lifeline/session"
	"github.com/lifelinehq/lifeline/transport"
)

// ProtocolError is a frame the peer may not send where it sent it: the connection
// ends with 4400 (docs/protocol.md §11). It matches ErrProtocol with errors.Is.
type ProtocolError struct{ Reason string }

func (e *ProtocolError) Error() string { return "lifeline: protocol error: " + e.Reason }

// Unwrap returns ErrProtocol.
func (e *ProtocolError) Unwrap() error { return ErrProtocol }

// Protocolf returns a *ProtocolError.
func Protocolf(format string, args ...any) error {
	return &ProtocolError{fmt.Sprintf(format, args...)}
}

// PeerClose is a C frame received: the peer ended the session with Code.
type PeerClose struct {
	Code   closecode.Code
	Reason string
}

func (e *PeerClose) Error() string {
	return (&session.CloseError{Code: e.Code, Reason: e.Reason, Remote: true}).Error()
}

// Inbound takes the frames one connection receives into its session (docs/protocol.md
// §5), on either end: data frames are numbered from the last S frame and delivered, an
// A frame releases what the peer acknowledged, P makes an ack due at once, and C ends
// the connection with a *PeerClose. Frames that are not the engine's (R, H) are the
// caller's to handle first.
//
// One Inbound serves one connection. Frame and Data are called by one goroutine at a
// time; Heard, Busy and Watch may be used from any goroutine.
type Inbound struct {
	S *Session
	// Ack processes an A frame's number; nil means S.Acked.
	Ack func(n uint64) error
	// Deliver hands a message to the session; nil means S.Deliver waiting for room.
	Deliver func(ctx context.Context, seq uint64, m Message) (bool, error)

	next  uint64       // number of the next data frame; 0 until an S frame
	heard atomic.Int64 // unix ns when a frame last arrived
	busy  atomic.Bool  // waiting for the application to read: not silence
}

// NewInbound returns an Inbound for s that counts as heard from now.
func NewInbound(s *Session) *Inbound {
	in := &Inbound{}
	in.Reset(s)
	return in
}

// Reset makes in an Inbound for s as NewInbound does, keeping its Ack and Deliver:
// a pooled Inbound serves one request after another.
func (in *Inbound) Reset(s *Session) {
	in.S, in.next = s, 0
	in.busy.Store(false)
	in.Heard()
}

// Heard records that the peer was heard from now.
func (in *Inbound) Heard() { in.heard.Store(time.Now().UnixNano()) }

// Quiet returns how long the peer has been silent, not counting time spent waiting
// for the application to read (that is no silence): 0 while waiting.
func (in *Inbound) Quiet() time.Duration {
	if in.busy.Load() {
		return 0
	}
	return time.Since(time.Unix(0, in.heard.Load()))
}

// Body starts a new HTTP body: its data frames are numbered by its own S frame.
func (in *Inbound) Body() { in.next = 0 }

// Frame processes one frame. It reports whether it delivered a new message (not a
// duplicate). A C frame returns a *PeerClose; a frame the engine does not dispatch
// (H, R), a data frame without a number, or an ack of a message never sent, a
// *ProtocolError; a refused delivery, the session's error.
func (in *Inbound) Frame(ctx context.Context, f transport.Frame) (bool, error) {
	in.Heard()
	switch f.Type {
	case transport.FrameSeq:
		if f.Num == 0 {
			return false, Protocolf("S0: messages are numbered from 1")
		}
		in.next = f.Num
	case transport.FrameText:
		return in.Data(ctx, session.Text, f.Data)
	case transport.FrameBinary:
		return in.Data(ctx, session.Binary, f.Data)
	case transport.FrameRequest, transport.FrameReply, transport.FrameFailure:
		return in.Data(ctx, typeCall, callText(f)) // a copy: f.Data may be the reader's
	case transport.FrameAck:
		ack := in.Ack
		if ack == nil {
			ack = in.S.Acked
		}
		if ack(f.Num) != nil {
			return false, Protocolf("ack %d of a message never sent", f.Num)
		}
	case transport.FramePing:
		in.S.PeerPinged()
	case transport.FrameClose:
		return false, &PeerClose{Code: closecode.Code(f.Num), Reason: string(f.Data)}
	default:
		return false, Protocolf("unexpected %q frame", f.Type)
	}
	return false, nil
}

// Data delivers one message numbered by the last S frame; p becomes the session's.
// A request frame (Q, Y, X) is delivered by Frame.
func (in *Inbound) Data(ctx context.Context, typ session.MessageType, p []byte) (bool, error) {
	in.Heard()
	if in.next == 0 {
		return false, Protocolf("data frame without a sequence number")
	}
	in.busy.Store(true)
	var ok bool
	var err error
	if in.Deliver != nil {
		ok, err = in.Deliver(ctx, in.next, Message{Type: typ, Data: p})
	} else {
		ok, err = in.S.Deliver(ctx, in.next, Message{Type: typ, Data: p}, true)
	}
	in.busy.Store(false)
	in.Heard()
	if err != nil {
		var pe *ProtocolError
		if errors.Is(err, ErrProtocol) && !errors.As(err, &pe) {
			return false, Protocolf("message %d out of sequence", in.next)
		}
		return false, err
	}
	in.next++
	return ok, nil
}

// Watch calls silent once when the peer has been quiet for d (docs/protocol.md §6),
// not counting time spent waiting for the application to read. The returned func
// stops it.
func (in *Inbound) Watch(d time.Duration, silent func()) (stop func()) {
	var mu sync.Mutex
	var t *time.Timer
	stopped := false
	check := func() {
		mu.Lock()
		defer mu.Unlock()
		if stopped {
			return
		}
		switch quiet := in.Quiet(); {
		case quiet == 0:
			t.Reset(d)
		case quiet >= d:
			silent()
		default:
			t.Reset(d - quiet)
		}
	}
	mu.Lock()
	t = time.AfterFunc(d, check)
	mu.Unlock()
	return func() {
		mu.Lock()
		stopped = true
		t.Stop()
		mu.Unlock()
	}
}
