package transport

import (
	"bytes"
	"errors"
	"io"
	"strconv"
	"testing"
	"unicode/utf8"

	"github.com/lifelinehq/lifeline/closecode"
)

// Seed corpora live in testdata/fuzz/<FuzzName>/; the table tests add their cases.

// checkReencode fails unless f, written back with the Append functions, parses to f.
func checkReencode(t *testing.T, f Frame) {
	t.Helper()
	b := encodeFrame(f)
	g, err := ParseFrame(b)
	if err != nil || !sameFrame(f, g) {
		t.Fatalf("frame %v re-encodes to %q, which parses to %v, %v", f, b, g, err)
	}
}

func FuzzParseFrame(f *testing.F) {
	for _, tc := range parseFrameCases {
		f.Add([]byte(tc.in))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		fr, err := ParseFrame(in)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("ParseFrame(%q): error %v does not wrap ErrMalformed", in, err)
			}
			return
		}
		if fr.Type != in[0] {
			t.Fatalf("ParseFrame(%q): type %q", in, fr.Type)
		}
		checkReencode(t, fr)
		// Every frame must survive an HTTP body.
		got, err := NewReader(bytes.NewReader(AppendEvent(nil, in)), len(in)).Next()
		if err != nil || !sameFrame(got, fr) {
			t.Fatalf("frame %q as an HTTP body event reads back as %v, %v", in, got, err)
		}
		if fr.Num > MaxNum {
			t.Fatalf("ParseFrame(%q) = %v: number over MaxNum", in, fr)
		}
		switch fr.Type {
		case FrameText, FrameAck, FrameSeq, FramePing, FrameHello, FrameResume, FrameRequest, FrameReply, FrameFailure:
			// These have one spelling: the input is the encoding.
			if b := encodeFrame(fr); !bytes.Equal(b, in) {
				t.Fatalf("ParseFrame(%q) = %v, which encodes as %q", in, fr, b)
			}
		}
		switch fr.Type {
		case FrameRequest, FrameReply, FrameFailure:
			if fr.Num == 0 || !utf8.Valid(fr.Data) {
				t.Fatalf("ParseFrame(%q) = %v: id 0 or text not UTF-8", in, fr)
			}
		case FrameClose:
			if !ValidCloseCode(closecode.Code(fr.Num)) || len(fr.Data) > MaxReasonBytes {
				t.Fatalf("ParseFrame(%q) = %v: code or reason out of range", in, fr)
			}
		}
	})
}

func FuzzReader(f *testing.F) {
	for _, s := range roundTripFrames {
		f.Add(AppendEvent(nil, []byte(s)), uint16(64))
	}
	f.Fuzz(func(t *testing.T, body []byte, limit uint16) {
		rd := NewReader(bytes.NewReader(body), int(limit))
		for range len(body) + 1 { // every frame takes at least one byte of body
			fr, err := rd.Next()
			if err != nil {
				if err != io.EOF && err != io.ErrUnexpectedEOF && !errors.Is(err, ErrTooLarge) && !errors.Is(err, ErrMalformed) {
					t.Fatalf("Next: unexpected error %v", err)
				}
				return
			}
			wire := encodeFrame(fr)
			got, err := NewReader(bytes.NewReader(AppendEvent(nil, wire)), len(wire)).Next()
			if err != nil || !sameFrame(got, fr) {
				t.Fatalf("frame %v from the body, re-encoded as an event and read back: %v, %v", fr, got, err)
			}
		}
		t.Fatal("Reader returned more frames than the body has bytes")
	})
}

// fuzzHandshake checks that whatever h decodes is valid and encodes canonically.
func fuzzHandshake[T comparable](f *testing.F, h handshake[T], seed string, valid func(*T) bool) {
	f.Add([]byte(seed))
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := h.decode(data)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("decoding %q: error %v does not wrap ErrMalformed", data, err)
			}
			return
		}
		if !valid(v) {
			t.Fatalf("%q decoded to %+v, which is not valid", data, *v)
		}
		h.checkCanonical(t, v)
	})
}

func FuzzDecodeHello(f *testing.F) {
	fuzzHandshake(f, helloFrames,
		`{"v":1,"sid":"s","token":"t","ack":3,"hb":15000,"hbt":10000,"resume":60000,"msg":65536,"batch":100,"body":1048576,"queue":1048576}`,
		func(h *Hello) bool {
			inTime := func(d int64) bool { return d >= 0 && d <= MaxDelay }
			inLimit := func(n int) bool { return n >= 0 && uint64(n) <= MaxNum }
			return h.V == Version && h.SessionID != "" && h.Ack <= MaxNum &&
				inTime(h.Heartbeat) && inTime(h.HBTimeout) && inTime(h.Resume) &&
				inLimit(h.MaxMessage) && inLimit(h.MaxBatch) && inLimit(h.MaxBody) && inLimit(h.MaxQueued)
		})
}

func FuzzDecodeResume(f *testing.F) {
	fuzzHandshake(f, resumeFrames, `{"v":1,"sid":"s","token":"t","ack":41,"conn":3,"auth":"a"}`,
		func(r *ResumeReq) bool {
			return r.V == Version && (r.SessionID == "") == (r.Token == "") && r.Ack <= MaxNum && r.Conn <= MaxNum
		})
}

func FuzzParseNum(f *testing.F) {
	for _, s := range []string{"0", "7", "00", "01", "+1", "-1", maxNum, overNum, maxUint, "18446744073709551616"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		n, err := ParseNum(in)
		want, werr := strconv.ParseUint(string(in), 10, 64)
		ok := werr == nil && (len(in) == 1 || in[0] != '0') && want <= MaxNum
		switch {
		case ok && (err != nil || n != want):
			t.Fatalf("ParseNum(%q) = %d, %v; want %d", in, n, err, want)
		case !ok && err == nil:
			t.Fatalf("ParseNum(%q) = %d, want an error", in, n)
		case !ok && !errors.Is(err, ErrMalformed):
			t.Fatalf("ParseNum(%q): error %v does not wrap ErrMalformed", in, err)
		case ok && string(strconv.AppendUint(nil, n, 10)) != string(in):
			t.Fatalf("ParseNum(%q) = %d, which is written differently", in, n)
		}
	})
}
