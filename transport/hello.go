package transport

import (
	"encoding/json"
	"fmt"
)

// Version is the protocol version this package speaks.
const Version = 1

// MaxDelay bounds the hello's times in ms (hb, hbt, resume): 2^31-1, about 24.8 days,
// the longest delay a browser's setTimeout honours (a longer one fires at once).
const MaxDelay = 1<<31 - 1

// Hello is the server's first frame on every connection (docs/protocol.md §3).
type Hello struct {
	V          int    `json:"v"`
	SessionID  string `json:"sid"`
	Token      string `json:"token,omitempty"`
	Ack        uint64 `json:"ack"`
	Heartbeat  int64  `json:"hb"`     // ms
	HBTimeout  int64  `json:"hbt"`    // ms
	Resume     int64  `json:"resume"` // ms
	MaxMessage int    `json:"msg"`
	MaxBatch   int    `json:"batch"`
	MaxBody    int    `json:"body"`
	MaxQueued  int    `json:"queue"`
}

// ResumeReq is the client's first frame on a WebSocket; on HTTP the same fields travel
// in headers. An empty SessionID asks for a new session.
type ResumeReq struct {
	V         int    `json:"v"`
	SessionID string `json:"sid,omitempty"`
	Token     string `json:"token,omitempty"`
	Ack       uint64 `json:"ack,omitempty"`
	Conn      uint64 `json:"conn,omitempty"`
	Auth      string `json:"auth,omitempty"`
}

// AppendHello appends an H frame.
func AppendHello(dst []byte, h *Hello) []byte {
	b, _ := json.Marshal(h) // cannot fail: only strings and numbers
	return append(append(dst, FrameHello), b...)
}

// AppendResume appends an R frame.
func AppendResume(dst []byte, r *ResumeReq) []byte {
	b, _ := json.Marshal(r)
	return append(append(dst, FrameResume), b...)
}

// DecodeHello decodes the Data of an H frame.
func DecodeHello(data []byte) (*Hello, error) {
	var h Hello
	if err := json.Unmarshal(data, &h); err != nil {
		return nil, fmt.Errorf("%w: hello: %v", ErrMalformed, err)
	}
	if h.V != Version || h.SessionID == "" {
		return nil, fmt.Errorf("%w: hello: version %d, session %q", ErrMalformed, h.V, h.SessionID)
	}
	if h.Ack > MaxNum {
		return nil, fmt.Errorf("%w: hello: ack %d over 2^53-1", ErrMalformed, h.Ack)
	}
	for _, d := range []int64{h.Heartbeat, h.HBTimeout, h.Resume} {
		if d < 0 || d > MaxDelay {
			return nil, fmt.Errorf("%w: hello: a time of %d ms (0 to %d allowed)", ErrMalformed, d, MaxDelay)
		}
	}
	for _, n := range []int{h.MaxMessage, h.MaxBatch, h.MaxBody, h.MaxQueued} {
		if n < 0 || uint64(n) > MaxNum {
			return nil, fmt.Errorf("%w: hello: a limit of %d (0 to 2^53-1 allowed)", ErrMalformed, n)
		}
	}
	return &h, nil
}

// DecodeResume decodes the Data of an R frame.
func DecodeResume(data []byte) (*ResumeReq, error) {
	var r ResumeReq
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("%w: resume: %v", ErrMalformed, err)
	}
	if r.V != Version {
		return nil, fmt.Errorf("%w: resume: unsupported version %d", ErrMalformed, r.V)
	}
	if (r.SessionID == "") != (r.Token == "") {
		return nil, fmt.Errorf("%w: resume: session id and token go together", ErrMalformed)
	}
	if r.Ack > MaxNum || r.Conn > MaxNum {
		return nil, fmt.Errorf("%w: resume: ack %d or conn %d over 2^53-1", ErrMalformed, r.Ack, r.Conn)
	}
	return &r, nil
}

// Header names of the HTTP transports (docs/protocol.md §1).
const (
	HeaderSession = "Lifeline-Session"
	HeaderToken   = "Lifeline-Token"
	HeaderAck     = "Lifeline-Ack"
	HeaderConn    = "Lifeline-Conn"
	HeaderAuth    = "Lifeline-Auth"
)
