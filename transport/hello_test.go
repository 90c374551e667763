package transport

import (
	"errors"
	"fmt"
	"testing"
)

// handshake describes the H and R frames for checks shared by both.
type handshake[T comparable] struct {
	typ    byte
	decode func([]byte) (*T, error)
	encode func([]byte, *T) []byte
}

var (
	helloFrames  = handshake[Hello]{FrameHello, DecodeHello, AppendHello}
	resumeFrames = handshake[ResumeReq]{FrameResume, DecodeResume, AppendResume}
)

// parse decodes a whole frame of this type.
func (h handshake[T]) parse(wire []byte) (*T, error) {
	f, err := ParseFrame(wire)
	if err != nil {
		return nil, err
	}
	if f.Type != h.typ {
		return nil, fmt.Errorf("frame type %q, want %q", f.Type, h.typ)
	}
	return h.decode(f.Data)
}

// checkCanonical fails unless v encodes to a frame that decodes to v again, and
// returns the encoding.
func (h handshake[T]) checkCanonical(t *testing.T, v *T) []byte {
	t.Helper()
	b := h.encode(nil, v)
	v2, err := h.parse(b)
	if err != nil || *v2 != *v {
		t.Fatalf("%+v encodes as %q, which decodes to %+v, %v", *v, b, v2, err)
	}
	return b
}

// decodeCase is an input to decode and what it gives; a nil want is an error.
type decodeCase[T any] struct {
	in   string
	want *T
}

// checkDecode runs decoding cases; every good result must also encode canonically.
func checkDecode[T comparable](t *testing.T, h handshake[T], tests []decodeCase[T]) {
	t.Helper()
	for _, tc := range tests {
		got, err := h.decode([]byte(tc.in))
		switch {
		case tc.want == nil && (err == nil || !errors.Is(err, ErrMalformed)):
			t.Errorf("decoding %s = %+v, %v; want an ErrMalformed", tc.in, got, err)
		case tc.want != nil && (err != nil || *got != *tc.want):
			t.Errorf("decoding %s = %+v, %v; want %+v", tc.in, got, err, *tc.want)
		case tc.want != nil:
			h.checkCanonical(t, got)
		}
	}
}

func TestDecodeHello(t *testing.T) {
	checkDecode(t, helloFrames, []decodeCase[Hello]{
		{`{"v":1,"sid":"s"}`, &Hello{V: 1, SessionID: "s"}},
		{`{"v":1,"sid":"s","token":"t","ack":9007199254740991,"unknown":[1]}`, &Hello{V: 1, SessionID: "s", Token: "t", Ack: MaxNum}},
		{`{"v":1,"sid":"s","hb":2147483647,"hbt":1,"resume":0,"msg":9007199254740991,"batch":1,"body":1,"queue":1}`,
			&Hello{V: 1, SessionID: "s", Heartbeat: MaxDelay, HBTimeout: 1, MaxMessage: MaxNum, MaxBatch: 1, MaxBody: 1, MaxQueued: 1}},
		// Numbers out of what the protocol allows (§10).
		{`{"v":1,"sid":"s","ack":9007199254740992}`, nil},
		{`{"v":1,"sid":"s","ack":18446744073709551615}`, nil},
		{`{"v":1,"sid":"s","hb":-1}`, nil},
		{`{"v":1,"sid":"s","hb":2147483648}`, nil},
		{`{"v":1,"sid":"s","hbt":-5}`, nil},
		{`{"v":1,"sid":"s","resume":9223372036854775807}`, nil},
		{`{"v":1,"sid":"s","msg":-1}`, nil},
		{`{"v":1,"sid":"s","batch":-100}`, nil},
		{`{"v":1,"sid":"s","body":9007199254740992}`, nil},
		{`{"v":1,"sid":"s","queue":-1}`, nil},
		{`{"v":1}`, nil},             // no session
		{`{"v":2,"sid":"s"}`, nil},   // other version
		{`{"sid":"s"}`, nil},         // no version
		{`{"v":"1","sid":"s"}`, nil}, // version as a string
		{`{"v":1,"sid":"s","ack":-1}`, nil},
		{`{"v":1,"sid":"s","ack":18446744073709551616}`, nil},
		{`{"v":1,"sid":"s"`, nil},
		{``, nil},
		{`null`, nil},
		{`[1]`, nil},
	})
}

func TestDecodeResume(t *testing.T) {
	checkDecode(t, resumeFrames, []decodeCase[ResumeReq]{
		{`{"v":1}`, &ResumeReq{V: 1}},
		{`{"v":1,"auth":"a"}`, &ResumeReq{V: 1, Auth: "a"}},
		{`{"v":1,"sid":"s","token":"t","ack":41,"conn":3}`, &ResumeReq{V: 1, SessionID: "s", Token: "t", Ack: 41, Conn: 3}},
		{`{"v":1,"sid":"s"}`, nil},   // a session needs its token
		{`{"v":1,"token":"t"}`, nil}, // and a token its session
		{`{"v":0}`, nil},
		{`{}`, nil},
		{`{"v":1,"conn":-3}`, nil},
		{`{"v":1,"sid":"s","token":"t","ack":9007199254740991,"conn":9007199254740991}`, &ResumeReq{V: 1, SessionID: "s", Token: "t", Ack: MaxNum, Conn: MaxNum}},
		{`{"v":1,"sid":"s","token":"t","conn":9007199254740992}`, nil}, // over 2^53-1 (§10)
		{`{"v":1,"sid":"s","token":"t","conn":18446744073709551615}`, nil},
		{`{"v":1,"sid":"s","token":"t","ack":18446744073709551615}`, nil},
		{`{"v":1,"conn":1.5}`, nil},
		{`"v"`, nil},
	})
}
