package cluster

import (
	"encoding/binary"
	"errors"
	"net/http"
)

// The body of every message this package sends starts with a kind byte and a flow
// number (uvarint): the message's place in its flow, from 1, so that a receiver
// notices a lost message (NATS core delivers at most once) and ends the connection
// instead of skipping it. Messages outside a flow (requests to .ctl, broadcasts)
// carry 0. Strings and byte strings are uvarint-length-prefixed.
const (
	kindRequest   = 'Q' // relay → owner .http: an HTTP request (reply: the relay's flow)
	kindWebSocket = 'W' // relay → owner .ws: a relayed WebSocket's first frame (reply: the relay's flow)
	kindResponse  = 'A' // owner → relay: flags, [status, header], body bytes
	kindOpen      = 'O' // owner → relay: the WebSocket is open; the owner's flow subject
	kindMessage   = 'M' // either way: one WebSocket message (or its last part): type, data
	kindPart      = 'm' // either way: a part of a WebSocket message larger than a NATS message
	kindClose     = 'X' // either way: the WebSocket closed: code, reason
	kindPing      = 'P' // a request: is this flow (or relayed request) still live? "1" or "0"
	kindCancel    = 'C' // relay → owner .ctl: the client went away: stop serving
	kindBroadcast = 'B' // node → every node: node, group, type, data
	kindHello     = 'H' // node → Prefix.hello, and its answers: node
	kindMembers   = 'G' // a request to .ctl: group; the answer: count, ids (flow number 1: an error)
)

// kindResponse flags.
const (
	flagHead = 1 // the message starts with the status and header
	flagEnd  = 2 // the response is complete
)

var errMalformed = errors.New("lifeline/cluster: malformed message")

func appendStart(dst []byte, kind byte, n uint64) []byte {
	return binary.AppendUvarint(append(dst, kind), n)
}

func appendBytes(dst, b []byte) []byte {
	return append(binary.AppendUvarint(dst, uint64(len(b))), b...)
}

func appendString(dst []byte, s string) []byte {
	return append(binary.AppendUvarint(dst, uint64(len(s))), s...)
}

func appendHeader(dst []byte, h http.Header) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(h)))
	for k, vs := range h {
		dst = appendString(dst, k)
		dst = binary.AppendUvarint(dst, uint64(len(vs)))
		for _, v := range vs {
			dst = appendString(dst, v)
		}
	}
	return dst
}

// reader decodes a message body; the first error sticks and later reads return zero
// values.
type reader struct {
	b   []byte
	err error
}

func (r *reader) byte() byte {
	if r.err != nil || len(r.b) == 0 {
		r.err = errMalformed
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errMalformed
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) bytes() []byte {
	n := r.uvarint()
	if r.err != nil || n > uint64(len(r.b)) {
		r.err = errMalformed
		return nil
	}
	b := r.b[:n:n]
	r.b = r.b[n:]
	return b
}

func (r *reader) string() string { return string(r.bytes()) }

func (r *reader) header() http.Header {
	n := r.uvarint()
	if r.err != nil || n > uint64(len(r.b)) {
		r.err = errMalformed
		return nil
	}
	h := make(http.Header, n)
	for range n {
		k := r.string()
		m := r.uvarint()
		if r.err != nil || m > uint64(len(r.b)) {
			r.err = errMalformed
			return nil
		}
		vs := make([]string, 0, m)
		for range m {
			vs = append(vs, r.string())
		}
		h[k] = vs
	}
	return h
}

// start reads a message's kind and flow number.
func (r *reader) start() (kind byte, n uint64) { return r.byte(), r.uvarint() }

// rest returns what is left.
func (r *reader) rest() []byte {
	b := r.b
	r.b = nil
	return b
}

func appendUvarint(dst []byte, n int) []byte { return binary.AppendUvarint(dst, uint64(n)) }
