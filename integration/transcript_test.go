package integration

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/lifelinehq/lifeline/closecode"
	"github.com/lifelinehq/lifeline/server"
	"github.com/lifelinehq/lifeline/session"
)

// TestSpecTranscript replays the transcript of docs/protocol.md §15 against a real
// server, byte for byte: it sends every client line and compares every server line,
// capturing the placeholders {sid} and {token} where they first appear. The
// application's steps ("* app ...") run in the handler, in the transcript's order.
//
// The bytes do not depend on timing: every server line answers a step before it, and
// the heartbeat (60 s) stays out of the way. One assumption remains: the server's 1 s
// ack delay (§5) does not pass between the client's Mhello and its P, written back to
// back, or the server would send A1 before the A2 the transcript shows.
func TestSpecTranscript(t *testing.T) {
	lines := transcript(t)
	app := make(chan appStep)
	ended := make(chan error, 1)
	srv := server.New(server.HandlerFunc(func(ctx context.Context, s *session.Session) {
		a := &appState{ctx: ctx, asked: make(chan question), got: make(chan answer, 1)}
		s.OnRequest(a.answer)
		for {
			select {
			case st := <-app:
				st.done <- st.run(ctx, s, a)
			case <-ctx.Done():
				// The session is over: Read returns its end, not one more message.
				if typ, p, err := s.Read(context.Background()); err == nil {
					ended <- fmt.Errorf("the application read %d %q after the end", typ, p)
				}
				close(ended)
				return
			}
		}
	}), &server.Options{Heartbeat: time.Minute})
	ts := httptest.NewServer(srv)
	defer ts.Close()
	defer srv.Shutdown(context.Background())

	r := &replay{t: t, base: ts.URL, app: app, vars: map[string]string{},
		http: &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableCompression: true}}}
	defer r.http.CloseIdleConnections()
	defer func() {
		if r.ws != nil { // a failed step: let Shutdown end at once
			r.ws.CloseNow()
		}
	}()
	for i := 0; i < len(lines); {
		i = r.step(lines, i)
	}
	if r.ws != nil {
		t.Fatalf("the transcript leaves a WebSocket open")
	}
	select {
	case err := <-ended:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the session did not end with the transcript")
	}
}

// docLine is one line of the transcript block and its line number in the doc.
type docLine struct {
	n    int
	text string
}

func (l docLine) String() string { return fmt.Sprintf("docs/protocol.md:%d: %s", l.n, l.text) }

// transcript returns the lines of the first ```transcript block of docs/protocol.md,
// without comment lines.
func transcript(t *testing.T) []docLine {
	t.Helper()
	doc, err := os.ReadFile("../docs/protocol.md")
	if err != nil {
		t.Fatal(err)
	}
	var out []docLine
	in := false
	for i, text := range strings.Split(string(doc), "\n") {
		switch {
		case !in && text == "```transcript":
			in = true
		case in && text == "```":
			if len(out) == 0 {
				t.Fatal("docs/protocol.md: the transcript block is empty")
			}
			return out
		case in && !strings.HasPrefix(text, "#"):
			out = append(out, docLine{i + 1, text})
		}
	}
	t.Fatal("docs/protocol.md has no complete ```transcript block")
	return nil
}

// replay is the client side of the transcript.
type replay struct {
	t    *testing.T
	base string
	http *http.Client
	ws   *websocket.Conn
	app  chan appStep
	vars map[string]string // placeholder values captured so far
}

// step runs the transcript step starting at lines[i] and returns the next one's index.
func (r *replay) step(lines []docLine, i int) int {
	t, l := r.t, lines[i]
	switch {
	case strings.HasPrefix(l.text, "* app "):
		r.toApp(l, parseApp(t, l))
		return i + 1
	case l.text == "* ws drop":
		if r.ws == nil {
			t.Fatalf("%s: no WebSocket open", l)
		}
		r.ws.CloseNow()
		r.ws = nil
		return i + 1
	case strings.HasPrefix(l.text, "* ws open "):
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		url := "ws" + strings.TrimPrefix(r.base, "http") + strings.TrimPrefix(l.text, "* ws open ")
		c, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{CompressionMode: websocket.CompressionDisabled})
		if err != nil {
			t.Fatalf("%s: %v", l, err)
		}
		r.ws = c
		return i + 1
	case r.ws != nil && strings.HasPrefix(l.text, ">"):
		typ, p := wsMessage(t, l, r.expand(marked(t, l, ">")))
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := r.ws.Write(ctx, typ, p); err != nil {
			t.Fatalf("%s: %v", l, err)
		}
		return i + 1
	case r.ws != nil && strings.HasPrefix(l.text, "<"):
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		typ, p, err := r.ws.Read(ctx)
		if err != nil {
			t.Fatalf("%s: reading: %v", l, err)
		}
		want := marked(t, l, "<")
		if wtyp, wp := wsMessage(t, l, want); wtyp == websocket.MessageBinary || typ == websocket.MessageBinary {
			if typ != wtyp || string(p) != string(wp) {
				t.Fatalf("%s: the server sent %v %q, the transcript shows %v %q", l, typ, p, wtyp, wp)
			}
			return i + 1
		}
		r.match(l, want, string(p))
		return i + 1
	case r.ws == nil && strings.HasPrefix(l.text, ">"):
		return r.exchange(lines, i)
	}
	t.Fatalf("%s: not a step", l)
	return 0
}

// exchange sends the HTTP request of lines[i:] and compares the response that follows
// it. It returns the index after the response.
func (r *replay) exchange(lines []docLine, i int) int {
	t := r.t
	var req, resp []docLine
	for ; i < len(lines) && strings.HasPrefix(lines[i].text, ">"); i++ {
		req = append(req, lines[i])
	}
	for ; i < len(lines) && strings.HasPrefix(lines[i].text, "<"); i++ {
		resp = append(resp, lines[i])
	}
	if len(resp) == 0 {
		t.Fatalf("%s: a request with no response", req[0])
	}
	method, target, ok := strings.Cut(marked(t, req[0], ">"), " ")
	target, ok2 := strings.CutSuffix(target, " HTTP/1.1")
	if !ok || !ok2 {
		t.Fatalf("%s: want a request line", req[0])
	}
	head, body := r.split(req, ">")
	var b strings.Builder
	for _, l := range body {
		b.WriteString(r.expand(l) + "\n")
	}
	hr, err := http.NewRequest(method, r.base+target, strings.NewReader(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	if body == nil {
		hr.Body, hr.ContentLength = nil, 0
	}
	for _, h := range head[1:] {
		name, value, ok := strings.Cut(r.expand(h), ": ")
		if !ok {
			t.Fatalf("%s: want a header line", req[0])
		}
		hr.Header.Set(name, value)
	}
	res, err := r.http.Do(hr)
	if err != nil {
		t.Fatalf("%s: %v", req[0], err)
	}
	defer res.Body.Close()
	got, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s: reading the response: %v", req[0], err)
	}

	head, body = r.split(resp, "<")
	r.match(resp[0], head[0], res.Proto+" "+res.Status)
	// Every response header is compared but those of HTTP's framing.
	var names []string
	for name := range res.Header {
		if name != "Date" && name != "Content-Length" {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	var want []string
	for _, h := range head[1:] {
		name, _, _ := strings.Cut(h, ":")
		want = append(want, name)
	}
	if !slices.Equal(names, want) {
		t.Errorf("%s: response headers %q, the transcript shows %q", resp[0], names, want)
	}
	for _, h := range head[1:] {
		name, value, _ := strings.Cut(h, ": ")
		r.match(resp[0], value, strings.Join(res.Header.Values(name), ", "))
	}
	var wantBody strings.Builder
	for _, l := range body {
		wantBody.WriteString(l + "\n")
	}
	r.match(resp[0], wantBody.String(), string(got))
	return i
}

// split returns the marked text of a request's or response's lines: the start line and
// headers, then the body lines after the empty line (nil if there is none).
func (r *replay) split(lines []docLine, mark string) (head, body []string) {
	for i, l := range lines {
		text := marked(r.t, l, mark)
		if text == "" {
			for _, b := range lines[i+1:] {
				body = append(body, marked(r.t, b, mark))
			}
			if body == nil {
				body = []string{}
			}
			return head, body
		}
		head = append(head, text)
	}
	return head, nil
}

// marked returns l's text after its mark and the space that follows it.
func marked(t *testing.T, l docLine, mark string) string {
	rest, ok := strings.CutPrefix(l.text, mark)
	if !ok {
		t.Fatalf("%s: want a line starting %q", l, mark)
	}
	if rest == "" {
		return ""
	}
	if rest[0] != ' ' {
		t.Fatalf("%s: want a space after %q", l, mark)
	}
	return rest[1:]
}

// wsMessage is the WebSocket message a line shows: a text message, or
// [binary "Go-quoted bytes"].
func wsMessage(t *testing.T, l docLine, text string) (websocket.MessageType, []byte) {
	if q, ok := strings.CutPrefix(text, "[binary "); ok {
		p, err := strconv.Unquote(strings.TrimSuffix(q, "]"))
		if err != nil || !strings.HasSuffix(q, "]") {
			t.Fatalf("%s: bad binary message", l)
		}
		return websocket.MessageBinary, []byte(p)
	}
	return websocket.MessageText, []byte(text)
}

// placeholders are the values that differ between runs, and what they look like.
var placeholders = map[string]string{
	"sid":   `[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`,
	"token": `[A-Za-z0-9_-]{22}`,
}

var placeholder = regexp.MustCompile(`\{(sid|token)\}`)

// expand replaces the placeholders captured so far.
func (r *replay) expand(s string) string {
	return placeholder.ReplaceAllStringFunc(s, func(p string) string {
		v, ok := r.vars[p[1:len(p)-1]]
		if !ok {
			r.t.Fatalf("transcript: %s used before the server sent it", p)
		}
		return v
	})
}

// match compares what the server sent with what the transcript shows, capturing the
// placeholders not seen before.
func (r *replay) match(l docLine, want, got string) {
	r.t.Helper()
	var pat strings.Builder
	var names []string
	last := 0
	for _, m := range placeholder.FindAllStringSubmatchIndex(want, -1) {
		pat.WriteString(regexp.QuoteMeta(want[last:m[0]]))
		name := want[m[2]:m[3]]
		if v, ok := r.vars[name]; ok {
			pat.WriteString(regexp.QuoteMeta(v))
		} else {
			pat.WriteString("(" + placeholders[name] + ")")
			names = append(names, name)
		}
		last = m[1]
	}
	pat.WriteString(regexp.QuoteMeta(want[last:]))
	sub := regexp.MustCompile(`\A` + pat.String() + `\z`).FindStringSubmatch(got)
	if sub == nil {
		r.t.Fatalf("%s: the server sent\n%q\nthe transcript shows\n%q", l, got, want)
	}
	for k, name := range names {
		if v, ok := r.vars[name]; ok && v != sub[k+1] {
			r.t.Fatalf("%s: {%s} is %q here, %q before", l, name, sub[k+1], v)
		}
		r.vars[name] = sub[k+1]
	}
}

// appStep is one step of the application, run by the handler.
type appStep struct {
	op     string // "writes", "reads", "closes", "answers", "asks", "gets"
	typ    session.MessageType
	data   []byte
	reply  []byte // what answers replies
	code   int
	reason string
	done   chan error
}

// appState is what the application's requests share between steps: the requests its
// answerer received (each waits for an answers step) and the outcome of its own
// request (asks starts it, gets checks it).
type appState struct {
	ctx   context.Context // the handler's
	asked chan question
	got   chan answer
}

type question struct {
	req   []byte
	reply chan []byte
}

type answer struct {
	p   []byte
	err error
}

// answer is the application's answerer: it hands each request to the next answers
// step and replies what the step says.
func (a *appState) answer(ctx context.Context, req []byte) ([]byte, error) {
	q := question{req, make(chan []byte, 1)}
	select {
	case a.asked <- q:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case p := <-q.reply:
		return p, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

const quoted = `("(?:[^"\\]|\\.)*")`

var appLine = regexp.MustCompile(`^\* app (writes|reads|closes|answers|asks|gets) (binary |(\d+) )?` + quoted + `( with ` + quoted + `)?$`)

// parseApp parses `* app writes|reads [binary] "quoted"`, `* app closes code
// "reason"`, `* app answers "request" with "reply"` and `* app asks|gets "quoted"`.
func parseApp(t *testing.T, l docLine) appStep {
	m := appLine.FindStringSubmatch(l.text)
	if m == nil {
		t.Fatalf("%s: not an application step", l)
	}
	q, err := strconv.Unquote(m[4])
	if err != nil {
		t.Fatalf("%s: %v", l, err)
	}
	st := appStep{op: m[1], typ: session.Text, data: []byte(q), done: make(chan error, 1)}
	if (m[1] == "answers") != (m[5] != "") {
		t.Fatalf("%s: answers, and only answers, takes a reply", l)
	}
	if m[1] == "answers" {
		reply, err := strconv.Unquote(m[6])
		if err != nil {
			t.Fatalf("%s: %v", l, err)
		}
		st.reply = []byte(reply)
	}
	switch {
	case m[1] == "closes":
		if m[3] == "" {
			t.Fatalf("%s: closes needs a code", l)
		}
		st.code, _ = strconv.Atoi(m[3])
		st.reason = q
	case m[2] == "binary " && (m[1] == "writes" || m[1] == "reads"):
		st.typ = session.Binary
	case m[2] == "binary ":
		t.Fatalf("%s: requests are text", l)
	case m[2] != "":
		t.Fatalf("%s: only closes takes a code", l)
	}
	return st
}

// run carries out the step in the handler.
func (st appStep) run(ctx context.Context, s *session.Session, a *appState) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	switch st.op {
	case "answers":
		select {
		case q := <-a.asked:
			q.reply <- st.reply
			if string(q.req) != string(st.data) {
				return fmt.Errorf("asked %q, want %q", q.req, st.data)
			}
		case <-ctx.Done():
			return fmt.Errorf("no request came: %w", ctx.Err())
		}
	case "asks":
		go func() { // its reply comes later in the transcript
			p, err := s.Request(a.ctx, st.data)
			a.got <- answer{p, err}
		}()
	case "gets":
		select {
		case r := <-a.got:
			if r.err != nil || string(r.p) != string(st.data) {
				return fmt.Errorf("the request got %q, %v; want %q", r.p, r.err, st.data)
			}
		case <-ctx.Done():
			return fmt.Errorf("no reply came: %w", ctx.Err())
		}
	case "writes":
		return s.Write(ctx, st.typ, st.data)
	case "closes":
		return s.Close(closecode.Code(st.code), st.reason)
	case "reads":
		typ, p, err := s.Read(ctx)
		switch {
		case err != nil:
			return err
		case typ != st.typ || string(p) != string(st.data):
			return fmt.Errorf("read %d %q, want %d %q", typ, p, st.typ, st.data)
		}
	}
	return nil
}

// toApp hands st to the handler (which runs once the session is confirmed) and waits.
func (r *replay) toApp(l docLine, st appStep) {
	timeout := time.After(5 * time.Second)
	select {
	case r.app <- st:
	case <-timeout:
		r.t.Fatalf("%s: the application is not running", l)
	}
	select {
	case err := <-st.done:
		if err != nil {
			r.t.Fatalf("%s: %v", l, err)
		}
	case <-timeout:
		r.t.Fatalf("%s: the application step did not finish", l)
	}
}
