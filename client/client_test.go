package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lifelinehq/lifeline/closecode"
	"github.com/lifelinehq/lifeline/internal/engine"
	"github.com/lifelinehq/lifeline/session"
	"github.com/lifelinehq/lifeline/transport"
)

func TestBackoffFullJitter(t *testing.T) {
	b := backoff{min: 250 * time.Millisecond, max: 10 * time.Second}
	want := []time.Duration{250, 500, 1000, 2000, 4000, 8000, 10000, 10000, 10000}
	for i, w := range want {
		w *= time.Millisecond
		if got := b.ceiling(); got != w {
			t.Fatalf("attempt %d: ceiling %v, want %v", i, got, w)
		}
		if d := b.next(); d < 0 || d > w {
			t.Fatalf("attempt %d: wait %v outside [0, %v]", i, d, w)
		}
	}
	// Full jitter: the waits spread over the whole range, low and high.
	var lo, hi bool
	for range 1000 {
		d := b.next()
		if d < 0 || d > b.max {
			t.Fatalf("wait %v outside [0, %v]", d, b.max)
		}
		lo = lo || d < b.max/4
		hi = hi || d > b.max*3/4
	}
	if !lo || !hi {
		t.Errorf("waits do not spread over [0, max]: low %v, high %v", lo, hi)
	}
	for range 100 {
		b.next() // no overflow however long it fails
	}
	if got := b.ceiling(); got != b.max {
		t.Errorf("ceiling after many failures %v, want %v", got, b.max)
	}
	b.reset()
	if got := b.ceiling(); got != b.min {
		t.Errorf("ceiling after reset %v, want %v", got, b.min)
	}
}

func TestSleep(t *testing.T) {
	if !sleep(context.Background(), time.Millisecond, nil) {
		t.Error("sleep was cut short")
	}
	early := make(chan struct{})
	close(early)
	if !sleep(context.Background(), time.Hour, early) {
		t.Error("sleep did not end early")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if sleep(ctx, time.Hour, nil) || sleep(ctx, 0, nil) {
		t.Error("sleep ignored a cancelled context")
	}
}

func TestMountEndpoints(t *testing.T) {
	for _, tc := range []struct {
		mount, ws, send string
	}{
		{"http://example.com/lifeline", "ws://example.com/lifeline/ws", "http://example.com/lifeline/send"},
		{"https://example.com/lifeline/", "wss://example.com/lifeline/ws", "https://example.com/lifeline/send"},
		{"ws://example.com:8080/a/b", "ws://example.com:8080/a/b/ws", "http://example.com:8080/a/b/send"},
		{"wss://example.com", "wss://example.com/ws", "https://example.com/send"},
		{"http://127.0.0.1:1/ll?x=1#frag", "ws://127.0.0.1:1/ll/ws?x=1", "http://127.0.0.1:1/ll/send?x=1"},
	} {
		m, err := parseMount(tc.mount)
		if err != nil {
			t.Errorf("%s: %v", tc.mount, err)
			continue
		}
		if got := m.endpoint("ws"); got != tc.ws {
			t.Errorf("%s: ws endpoint %s, want %s", tc.mount, got, tc.ws)
		}
		if got := m.endpoint("send"); got != tc.send {
			t.Errorf("%s: send endpoint %s, want %s", tc.mount, got, tc.send)
		}
	}
	for _, bad := range []string{"ftp://example.com/x", "example.com/x", "http:///x", "http://[::1"} {
		if _, err := parseMount(bad); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}
}

func TestOptionDefaults(t *testing.T) {
	o, err := (*Options)(nil).withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(o.Transports, ",") != "websocket,stream,poll" {
		t.Errorf("Transports %v", o.Transports)
	}
	if o.HTTPClient != http.DefaultClient || o.Logger == nil || o.Auth != nil {
		t.Errorf("HTTPClient %v, Logger %v", o.HTTPClient, o.Logger)
	}
	for _, d := range []struct {
		name      string
		got, want time.Duration
	}{
		{"WebSocketHeadStart", o.WebSocketHeadStart, 150 * time.Millisecond},
		{"PollStart", o.PollStart, 300 * time.Millisecond},
		{"WebSocketDeadline", o.WebSocketDeadline, 10 * time.Second},
		{"ConnectTimeout", o.ConnectTimeout, 3 * time.Second},
		{"BackoffMin", o.BackoffMin, 250 * time.Millisecond},
		{"BackoffMax", o.BackoffMax, 10 * time.Second},
		{"ReprobeMin", o.ReprobeMin, 10 * time.Second},
		{"ReprobeMax", o.ReprobeMax, 5 * time.Minute},
		{"startAt(0)", o.startAt(0), 0},
		{"startAt(1)", o.startAt(1), 150 * time.Millisecond},
		{"startAt(2)", o.startAt(2), 300 * time.Millisecond},
	} {
		if d.got != d.want {
			t.Errorf("%s = %v, want %v", d.name, d.got, d.want)
		}
	}

	in := &Options{
		Transports: []string{"poll"}, Header: http.Header{"Origin": {"http://a"}},
		BackoffMin: time.Second, BackoffMax: time.Millisecond, WebSocketHeadStart: time.Second,
		MaxMessageBytes: 10,
	}
	o, err = in.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if len(o.Transports) != 1 || o.BackoffMax != time.Second || o.PollStart != time.Second {
		t.Errorf("kept %v, BackoffMax %v, PollStart %v", o.Transports, o.BackoffMax, o.PollStart)
	}
	if c := o.sessionConfig(); c.MaxMessage != 10 || c.ResumeWindow != 0 || c.HandshakeTimeout != 0 {
		t.Errorf("session config %+v", c)
	}
	in.Header.Set("Origin", "http://b")
	in.Transports[0] = "stream"
	if o.Header.Get("Origin") != "http://a" || o.Transports[0] != "poll" {
		t.Error("options share the caller's header or transport list")
	}

	for _, bad := range [][]string{{"sse"}, {"poll", "poll"}} {
		if _, err := (&Options{Transports: bad}).withDefaults(); err == nil {
			t.Errorf("Transports %v accepted", bad)
		}
	}
	if _, err := Dial(context.Background(), "ftp://x", nil); err == nil {
		t.Error("Dial accepted a bad URL")
	}
}

func TestAction(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want closecode.Action
		code closecode.Code
	}{
		{peerClose(4404, "unknown"), closecode.Reset, 4404},
		{peerClose(4408, ""), closecode.Reconnect, 4408},
		{peerClose(4409, ""), closecode.Ignore, 4409},
		{peerClose(1000, ""), closecode.Stop, 1000},
		// What the client finds wrong itself resumes: only the server's code stops.
		{engine.Protocolf("bad"), closecode.Reconnect, closecode.Protocol},
		{session.ErrTooLarge, closecode.Stop, closecode.TooLarge},
		{fmt.Errorf("body: %w", transport.ErrTooLarge), closecode.Stop, closecode.TooLarge},
		{fmt.Errorf("body: %w", transport.ErrMalformed), closecode.Reconnect, closecode.Protocol},
		{&session.CloseError{Code: closecode.TooLarge}, closecode.Stop, closecode.TooLarge},
		{peerClose(closecode.Protocol, "bad"), closecode.Stop, closecode.Protocol},
		{io.ErrUnexpectedEOF, closecode.Reconnect, 0},
		{errSilent, closecode.Reconnect, 0},
	} {
		act, code, _ := action(tc.err)
		if act != tc.want || code != tc.code {
			t.Errorf("%v: action %v code %d, want %v %d", tc.err, act, code, tc.want, tc.code)
		}
	}
	var re error = &ResetError{Code: 4410, Reason: "expired", Unsent: 2}
	if !errors.Is(re, ErrReset) || !strings.Contains(re.Error(), "4410") {
		t.Errorf("ResetError %v", re)
	}
}

func TestResponseError(t *testing.T) {
	resp := func(status int, body string) *http.Response {
		req, _ := http.NewRequest(http.MethodGet, "http://x/ll/poll", nil)
		return &http.Response{StatusCode: status, Status: http.StatusText(status), Body: io.NopCloser(strings.NewReader(body)), Request: req}
	}
	err := responseError(resp(410, "data:C4410 session expired\n\n"))
	var ce *session.CloseError
	if !errors.As(err, &ce) || ce.Code != 4410 || ce.Reason != "session expired" || !ce.Remote {
		t.Errorf("C body: %v", err)
	}
	err = responseError(resp(404, "404 page not found\n"))
	if errors.As(err, &ce) || err == nil {
		t.Errorf("a proxy's 404 is a close code: %v", err)
	}
}

// TestUplinkBuild checks the send bodies: within the batch and body limits, numbered
// by one S frame, resent from the first unacknowledged message after a partial ack.
func TestUplinkBuild(t *testing.T) {
	ctx := context.Background()
	g := (&Conn{}).newGen()
	l, _, err := g.s.Attach(nameStream, 0, 0, true)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		typ, p := message(i)
		if err := g.s.Write(ctx, typ, p); err != nil {
			t.Fatal(err)
		}
	}
	u := &uplink{g: g, l: l, maxFrames: 6, maxBody: 2048, hb: time.Second}
	parse := func(body []byte) (first uint64, msgs [][]byte, frames int) {
		rd := transport.NewReader(bytes.NewReader(body), 1<<20)
		for {
			f, err := rd.Next()
			if err == io.EOF {
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			frames++
			switch f.Type {
			case transport.FrameSeq:
				if first != 0 {
					t.Fatalf("second S frame in %q", body)
				}
				first = f.Num
			case transport.FrameText, transport.FrameBinary:
				msgs = append(msgs, bytes.Clone(f.Data))
			}
		}
	}
	next := uint64(1)
	for next <= 20 {
		body, err := u.build(false)
		if err != nil || body == nil {
			t.Fatalf("build: %q %v", body, err)
		}
		if len(body) > u.maxBody {
			t.Fatalf("body of %d bytes", len(body))
		}
		first, msgs, frames := parse(body)
		if frames > u.maxFrames || first != next || len(msgs) == 0 {
			t.Fatalf("body from %d: S%d, %d frames, %d messages", next, first, frames, len(msgs))
		}
		for i, p := range msgs {
			if _, want := message(int(first) - 1 + i); !bytes.Equal(p, want) {
				t.Fatalf("message %d: %q", int(first)+i, p)
			}
		}
		// The server takes all but the last message of each body.
		ack := first + uint64(len(msgs)) - 2
		if len(msgs) == 1 {
			ack++
		}
		if err := g.ack(ack); err != nil {
			t.Fatal(err)
		}
		u.settle(ack)
		next = ack + 1
	}
	if body, _ := u.build(true); string(body) != "data:P\n\n" {
		t.Errorf("idle body %q, want a heartbeat", body)
	}
}
