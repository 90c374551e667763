package transport_test

import (
	"fmt"
	"io"
	"strings"

	"github.com/lifelinehq/lifeline/closecode"
	"github.com/lifelinehq/lifeline/transport"
)

// An HTTP body: frames as events, read back one at a time.
func ExampleReader() {
	var body []byte
	body = transport.AppendEvent(body, transport.AppendNum(nil, transport.FrameSeq, 7))
	body = transport.AppendEvent(body, transport.AppendText(nil, []byte("two\nlines")))
	body = transport.AppendEvent(body, transport.AppendBinary(nil, []byte{0, 255}))
	fmt.Printf("%q\n", body)
	rd := transport.NewReader(strings.NewReader(string(body)), 1024)
	for {
		f, err := rd.Next()
		if err == io.EOF {
			break
		}
		fmt.Printf("%c %d %q\n", f.Type, f.Num, f.Data)
	}
	// Output:
	// "data:S7\n\ndata:Mtwo\ndata:lines\n\ndata:BAP8=\n\n"
	// S 7 ""
	// M 0 "two\nlines"
	// B 0 "\x00\xff"
}

// The HTTP status that carries a close code on the HTTP transports.
func ExampleHTTPStatus() {
	for _, code := range []closecode.Code{closecode.Timeout, closecode.Expired, closecode.AuthExpired} {
		fmt.Println(int(code), transport.HTTPStatus(code))
	}
	// Output:
	// 4408 0
	// 4410 410
	// 4440 401
}

// The handshake frames.
func ExampleDecodeHello() {
	f, _ := transport.ParseFrame(transport.AppendHello(nil, &transport.Hello{V: 1, SessionID: "s1", Ack: 3, Heartbeat: 15000}))
	h, _ := transport.DecodeHello(f.Data)
	fmt.Println(h.SessionID, h.Ack, h.Heartbeat)
	r, err := transport.DecodeResume([]byte(`{"v":1,"sid":"s1","token":"t","ack":9,"conn":2}`))
	fmt.Println(r.SessionID, r.Ack, r.Conn, err)
	_, err = transport.ParseFrame([]byte("S01"))
	fmt.Println(err)
	// Output:
	// s1 3 15000
	// s1 9 2 <nil>
	// lifeline: malformed frame: number "01"
}
