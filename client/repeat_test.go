package client

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/lifelinehq/lifeline/closecode"
	"github.com/lifelinehq/lifeline/internal/engine"
	"github.com/lifelinehq/lifeline/transport"
)

// mischief is an http.RoundTripper that does to polls what a network and its proxies
// may do: it sends each poll twice and answers with the second copy's response (a
// GET retried after its first answer was lost), cuts every ninth poll, and answers
// the first poll of each resumed run with an earlier poll's response (a reordered
// one, which starts with S where the client waits for the hello).
type mischief struct {
	base http.RoundTripper

	mu                sync.Mutex
	polls             int
	last              []byte          // the last response body that began with S
	runs              map[string]bool // Lifeline-Conn values seen
	dups, cuts, stale int
}

var errCut = errors.New("mischief: connection cut")

func (m *mischief) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method != http.MethodGet || !strings.HasSuffix(r.URL.Path, "/poll") {
		return m.base.RoundTrip(r)
	}
	m.mu.Lock()
	m.polls++
	cut := m.polls%9 == 0
	conn := r.Header.Get(transport.HeaderConn)
	opening := r.Header.Get(transport.HeaderSession) != "" && !m.runs[conn]
	m.runs[conn] = true
	var stale []byte
	if opening && m.last != nil {
		stale, m.last = m.last, nil
		m.stale++
	}
	if cut {
		m.cuts++
	}
	m.mu.Unlock()
	if stale != nil {
		return &http.Response{StatusCode: 200, Status: "200 OK", Header: http.Header{},
			Body: io.NopCloser(bytes.NewReader(stale)), Request: r}, nil
	}
	if cut {
		return nil, errCut
	}
	// The first copy reaches the server; its answer is lost.
	if res, err := m.base.RoundTrip(r.Clone(r.Context())); err == nil {
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		m.mu.Lock()
		m.dups++
		m.mu.Unlock()
	}
	res, err := m.base.RoundTrip(r)
	if err != nil || res.StatusCode != 200 {
		return res, err
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		return nil, err
	}
	if bytes.HasPrefix(body, []byte("data:S")) {
		m.mu.Lock()
		m.last = body
		m.mu.Unlock()
	}
	res.Body = io.NopCloser(bytes.NewReader(body))
	return res, nil
}

// TestRepeatedAndReorderedPolls: with every poll received twice, cuts, and stale
// answers to the polls that open a run, a poll session carries an exchange with
// nothing lost or repeated, no reset and no stop. Before, the second copy of an
// opening poll was answered without the hello (server), and a response starting with
// S where the hello was due stopped the session with 4400 (client).
func TestRepeatedAndReorderedPolls(t *testing.T) {
	url := startServer(t, echo, fastServer())
	m := &mischief{base: http.DefaultTransport, runs: map[string]bool{}}
	o := fastClient("poll")
	o.HTTPClient = &http.Client{Transport: m}
	c := dial(t, url, o)
	exchange(t, c, 0, 200) // in bulk
	for i := 200; i < 320; i++ {
		exchange(t, c, i, 1) // one at a time: a poll or more each
	}
	st := c.Stats()
	m.mu.Lock()
	defer m.mu.Unlock()
	t.Logf("polls %d, copies %d, cuts %d, stale answers %d; stats %+v", m.polls, m.dups, m.cuts, m.stale, st)
	if st.Resets != 0 {
		t.Errorf("%d resets", st.Resets)
	}
	if m.dups == 0 || m.cuts == 0 || m.stale == 0 {
		t.Errorf("the mischief did not happen: copies %d, cuts %d, stale %d", m.dups, m.cuts, m.stale)
	}
}

// TestTransient: what Dial tries again (a failure that may not recur) and what fails
// it at once.
func TestTransient(t *testing.T) {
	status := func(code int) error {
		return &statusError{&http.Response{StatusCode: code, Status: http.StatusText(code)}}
	}
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{io.EOF, true},
		{io.ErrUnexpectedEOF, true},
		{errors.New("failed to WebSocket dial: failed to send handshake request: EOF"), true},
		{engine.Protocolf("'S' frame before the hello"), true},
		{peerClose(closecode.GoingAway, ""), true},
		{peerClose(closecode.TooMany, ""), true},
		{peerClose(closecode.Shutdown, ""), true},
		{status(http.StatusBadGateway), true},
		{peerClose(closecode.Auth, ""), false},
		{peerClose(closecode.Origin, ""), false},
		{peerClose(closecode.Protocol, ""), false},
		{status(http.StatusNotFound), false},
		{&net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}, false},
		{&net.DNSError{Err: "no such host", Name: "x.invalid", IsNotFound: true}, false},
		{context.Canceled, false},
	} {
		if got := transient(tc.err); got != tc.want {
			t.Errorf("transient(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
