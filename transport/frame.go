// Package transport holds Lifeline's wire vocabulary: frames, HTTP bodies, the hello
// and resume handshakes, header names and close codes, as docs/protocol.md specifies.
//
// Everything here is safe for concurrent use; Reader is not (one per body).
package transport

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/lifelinehq/lifeline/closecode"
)

// Frame type bytes (docs/protocol.md §2).
const (
	FrameHello  = 'H' // server hello, JSON
	FrameResume = 'R' // client first frame on WebSocket, JSON
	FrameSeq    = 'S' // sequence number of the next data frame
	FrameText   = 'M' // text message
	FrameBinary = 'B' // binary message, base64 on text transports
	FrameAck    = 'A' // cumulative ack
	FramePing   = 'P' // heartbeat
	FrameClose  = 'C' // close with code and reason

	// Request frames (docs/protocol.md §16): data frames, numbered by S like M and B.
	FrameRequest = 'Q' // a request: id, SP, payload
	FrameReply   = 'Y' // the reply to a request: id, SP, payload
	FrameFailure = 'X' // a request failed: id, SP, error message
)

var strictBase64 = base64.StdEncoding.Strict()

// MaxReasonBytes bounds the reason of a close frame, as in WebSocket close frames.
const MaxReasonBytes = 123

// MaxFailureBytes bounds the error message of an X frame as the Go side writes it
// (Failure cuts longer ones); a reader accepts any length within the message limit.
const MaxFailureBytes = 1024

// MaxNum is the largest number a peer may send (docs/protocol.md §10): 2^53-1, the
// largest integer a JavaScript number holds exactly. Nothing the protocol counts comes
// near it, and a bound well below 2^64 means that n+1 never wraps on either side.
const MaxNum = 1<<53 - 1

// ValidCloseCode reports whether code may be sent in a close frame (docs/protocol.md
// §10): a code a WebSocket close frame may carry (1000-1003, 1007-1014, 3000-4999), so
// that every session's end can be told on every transport.
func ValidCloseCode(code closecode.Code) bool {
	switch {
	case code >= 1000 && code <= 1003, code >= 1007 && code <= 1014, code >= 3000 && code <= 4999:
		return true
	}
	return false
}

// ErrMalformed is wrapped by every decoding error of this package.
var ErrMalformed = errors.New("lifeline: malformed frame")

// Frame is one decoded frame. Which fields are set depends on Type:
// Num for A, S, C (the code) and Q, Y, X (the request id); Data for M, B (decoded
// bytes), H and R (JSON), C (the reason) and Q, Y, X (the payload or error message).
// Data may alias the input it was parsed from.
type Frame struct {
	Type byte
	Num  uint64
	Data []byte
}

// ParseFrame decodes one frame from b. Data aliases b except for binary frames.
func ParseFrame(b []byte) (Frame, error) {
	if len(b) == 0 {
		return Frame{}, fmt.Errorf("%w: empty", ErrMalformed)
	}
	f := Frame{Type: b[0]}
	rest := b[1:]
	switch f.Type {
	case FrameText:
		if !utf8.Valid(rest) {
			return Frame{}, fmt.Errorf("%w: text message is not UTF-8", ErrMalformed)
		}
		f.Data = rest
	case FrameBinary:
		if bytes.ContainsAny(rest, "\r\n") { // the decoder would skip them
			return Frame{}, fmt.Errorf("%w: binary message: line break in base64", ErrMalformed)
		}
		d := make([]byte, base64.StdEncoding.DecodedLen(len(rest)))
		n, err := strictBase64.Decode(d, rest)
		if err != nil {
			return Frame{}, fmt.Errorf("%w: binary message: %v", ErrMalformed, err)
		}
		f.Data = d[:n]
	case FrameAck, FrameSeq:
		n, err := ParseNum(rest)
		if err != nil {
			return Frame{}, err
		}
		if f.Type == FrameSeq && n == 0 {
			return Frame{}, fmt.Errorf("%w: sequence numbers start at 1", ErrMalformed)
		}
		f.Num = n
	case FramePing:
		if len(rest) != 0 {
			return Frame{}, fmt.Errorf("%w: ping carries no data", ErrMalformed)
		}
	case FrameClose:
		if len(rest) < 4 {
			return Frame{}, fmt.Errorf("%w: close frame too short", ErrMalformed)
		}
		code, err := ParseNum(rest[:4])
		if err != nil || !ValidCloseCode(closecode.Code(code)) {
			return Frame{}, fmt.Errorf("%w: close code %q", ErrMalformed, rest[:4])
		}
		f.Num = code
		if len(rest) > 4 {
			if rest[4] != ' ' {
				return Frame{}, fmt.Errorf("%w: close code and reason need a space", ErrMalformed)
			}
			f.Data = rest[5:]
			if len(f.Data) > MaxReasonBytes || !utf8.Valid(f.Data) {
				return Frame{}, fmt.Errorf("%w: close reason too long or not UTF-8", ErrMalformed)
			}
		}
	case FrameRequest, FrameReply, FrameFailure:
		sp := bytes.IndexByte(rest, ' ')
		if sp < 0 {
			return Frame{}, fmt.Errorf("%w: %c frame needs an id and a space", ErrMalformed, f.Type)
		}
		id, err := ParseNum(rest[:sp])
		if err != nil {
			return Frame{}, err
		}
		if id == 0 {
			return Frame{}, fmt.Errorf("%w: request ids start at 1", ErrMalformed)
		}
		if !utf8.Valid(rest[sp+1:]) {
			return Frame{}, fmt.Errorf("%w: %c frame's text is not UTF-8", ErrMalformed, f.Type)
		}
		f.Num, f.Data = id, rest[sp+1:]
	case FrameHello, FrameResume:
		f.Data = rest
	default:
		return Frame{}, fmt.Errorf("%w: unknown frame type %q", ErrMalformed, f.Type)
	}
	return f, nil
}

// ParseNum parses an unsigned decimal number as the protocol writes it: no sign, no
// leading zeros, at most 16 digits, at most MaxNum.
func ParseNum(b []byte) (uint64, error) {
	if len(b) == 0 || len(b) > 16 || (len(b) > 1 && b[0] == '0') {
		return 0, fmt.Errorf("%w: number %q", ErrMalformed, b)
	}
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%w: number %q", ErrMalformed, b)
		}
		n = n*10 + uint64(c-'0') // 16 digits cannot overflow 64 bits
	}
	if n > MaxNum {
		return 0, fmt.Errorf("%w: number %q over 2^53-1", ErrMalformed, b)
	}
	return n, nil
}

// AppendText appends a text message frame.
func AppendText(dst, msg []byte) []byte {
	dst = append(dst, FrameText)
	return append(dst, msg...)
}

// AppendBinary appends a binary message frame in its base64 form for text transports.
func AppendBinary(dst, msg []byte) []byte {
	dst = append(dst, FrameBinary)
	return base64.StdEncoding.AppendEncode(dst, msg)
}

// AppendNum appends a frame of type t (A or S) carrying n.
func AppendNum(dst []byte, t byte, n uint64) []byte {
	dst = append(dst, t)
	return strconv.AppendUint(dst, n, 10)
}

// AppendCall appends a request frame of type t (Q, Y or X) for request id with its
// text: a payload, or for X an error message (see Failure). The text must be UTF-8.
func AppendCall(dst []byte, t byte, id uint64, text []byte) []byte {
	dst = append(dst, t)
	dst = strconv.AppendUint(dst, id, 10)
	dst = append(dst, ' ')
	return append(dst, text...)
}

// Failure cuts an X frame's error message to MaxFailureBytes on a UTF-8 boundary.
func Failure(msg string) string { return cut(msg, MaxFailureBytes) }

// Reason cuts a close reason to MaxReasonBytes on a UTF-8 boundary.
func Reason(reason string) string { return cut(reason, MaxReasonBytes) }

// cut cuts s to at most n bytes on a UTF-8 boundary.
func cut(s string, n int) string {
	if len(s) > n {
		s = s[:n]
		for !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
	}
	return s
}

// AppendClose appends a close frame. A reason longer than MaxReasonBytes is cut.
func AppendClose(dst []byte, code closecode.Code, reason string) []byte {
	reason = Reason(reason)
	dst = append(dst, FrameClose)
	dst = strconv.AppendInt(dst, int64(code), 10)
	if reason != "" {
		dst = append(dst, ' ')
		dst = append(dst, reason...)
	}
	return dst
}
