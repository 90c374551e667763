//go:build integration

package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image/png"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/lifelinehq/lifeline/client"
	"github.com/lifelinehq/lifeline/closecode"
	"github.com/lifelinehq/lifeline/server"
	"github.com/lifelinehq/lifeline/session"
)

// inspectPage is browser/inspect.mjs: Chromium on the inspector page.
type inspectPage struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Scanner
	err *syncBuffer
}

func startInspectPage(t *testing.T) *inspectPage {
	t.Helper()
	for _, f := range []string{"/usr/bin/chromium", "browser/node_modules/playwright-core/package.json"} {
		if _, err := os.Stat(f); err != nil {
			t.Fatalf("%s is missing: run make lab-deps", f)
		}
	}
	p := &inspectPage{cmd: exec.Command("node", "inspect.mjs"), err: &syncBuffer{}}
	p.cmd.Dir = "browser"
	p.cmd.Stderr = p.err
	var err error
	if p.in, err = p.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p.out = bufio.NewScanner(stdout)
	p.out.Buffer(nil, 16<<20)
	t.Cleanup(func() {
		p.in.Close() // the script closes Chromium and exits
		done := make(chan error, 1)
		go func() { done <- p.cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			p.cmd.Process.Kill()
			<-done
		}
	})
	return p
}

// call sends one request and decodes its result into v (the script answers in order,
// and bounds each wait it makes by 30 s).
func (p *inspectPage) call(t *testing.T, req map[string]any, v any) {
	t.Helper()
	b, _ := json.Marshal(req)
	if _, err := p.in.Write(append(b, '\n')); err != nil {
		t.Fatalf("inspect.mjs: %v\n%s", err, p.err.String())
	}
	if !p.out.Scan() {
		t.Fatalf("inspect.mjs exited:\n%s", p.err.String())
	}
	var r struct {
		Result json.RawMessage
		Error  string
	}
	if err := json.Unmarshal(p.out.Bytes(), &r); err != nil {
		t.Fatalf("inspect.mjs: bad line %q", p.out.Text())
	}
	if r.Error != "" {
		t.Fatalf("inspect.mjs %s: %s", req["op"], r.Error)
	}
	if v != nil {
		if err := json.Unmarshal(r.Result, v); err != nil {
			t.Fatalf("inspect.mjs %s: %v", req["op"], err)
		}
	}
}

type inspectState struct {
	Numbers                  map[string]float64
	Sessions, Groups, Closes [][]string
	Status, Viewers          string
	Snapshots, ChartInk      int
}

// TestLabInspector: the inspector page in Chromium, behind a cookie checked by
// Options.Inspect, shows three Go clients on the three transports, their group, the
// messages they send (the number on the page rises to the server's count), a close
// with its code, and renders: its screenshot (docs/inspector.png under make compat) is not blank.
func TestLabInspector(t *testing.T) {
	const cookie, secret = "lifeline-admin", "s3cret"
	var srv *server.Server
	srv = server.New(server.HandlerFunc(func(ctx context.Context, s *session.Session) {
		srv.Join("room", s)
		for {
			typ, p, err := s.Read(ctx)
			if err != nil {
				return
			}
			if code, ok := strings.CutPrefix(string(p), "bye:"); ok {
				n, _ := strconv.Atoi(code)
				s.Close(closecode.Code(n), "said bye")
				return
			}
			if s.Write(ctx, typ, p) != nil {
				return
			}
		}
	}), &server.Options{
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Inspect: func(r *http.Request) bool {
			c, err := r.Cookie(cookie)
			return err == nil && c.Value == secret
		},
	})
	r := chi.NewRouter()
	r.Mount("/lifeline", srv)
	ts := httptest.NewServer(r) // on 127.0.0.1
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		ts.Close()
	})
	pageURL := ts.URL + "/lifeline/inspect"

	res, err := http.Get(pageURL)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("GET /inspect without the cookie: %s, want 403", res.Status)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	transports := []string{"websocket", "stream", "poll"}
	conns := map[string]*client.Conn{}
	for _, tr := range transports {
		c, err := client.Dial(ctx, ts.URL+"/lifeline", &client.Options{Transports: []string{tr}})
		if err != nil {
			t.Fatalf("dial %s: %v", tr, err)
		}
		t.Cleanup(func() { c.CloseNow() })
		conns[tr] = c
	}

	page := startInspectPage(t)
	var opened struct{ Status string }
	page.call(t, map[string]any{"op": "open", "url": pageURL, "cookie": map[string]string{"name": cookie, "value": secret}}, &opened)
	var st inspectState
	page.call(t, map[string]any{"op": "state"}, &st)
	for _, tr := range transports {
		if st.Numbers["n-"+tr] != 1 {
			t.Errorf("page shows %v sessions on %s, want 1", st.Numbers["n-"+tr], tr)
		}
	}
	if st.Numbers["n-sessions"] != 3 || len(st.Sessions) != 3 {
		t.Errorf("page shows %v sessions and %d rows, want the 3 Go clients (not the inspector's own)", st.Numbers["n-sessions"], len(st.Sessions))
	}
	if !strings.HasPrefix(st.Status, "live · ") || !strings.HasPrefix(st.Viewers, "1 inspector session ") {
		t.Errorf("status %q, viewers %q", st.Status, st.Viewers)
	}
	if len(st.Groups) != 1 || st.Groups[0][0] != "room" || st.Groups[0][1] != "3" {
		t.Errorf("groups %v, want room with 3 members", st.Groups)
	}

	// Live numbers: every client sends; the page's count reaches the server's.
	before := st.Numbers["m-in"]
	const n = 25
	for _, tr := range transports {
		for i := range n {
			if err := conns[tr].Write(ctx, session.Text, fmt.Appendf(nil, "%s %d", tr, i)); err != nil {
				t.Fatal(err)
			}
		}
		for range n {
			if _, _, err := conns[tr].Read(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	want := srv.Stats().MessagesIn
	if float64(want) < before+3*n {
		t.Fatalf("server counted %d messages in, want at least %v", want, before+3*n)
	}
	page.call(t, map[string]any{"op": "waitAtLeast", "id": "m-in", "min": want}, nil)
	var after inspectState
	page.call(t, map[string]any{"op": "state"}, &after)
	if after.Numbers["m-in"] < float64(want) || after.Snapshots <= st.Snapshots {
		t.Errorf("page shows %v messages in after %d snapshots, was %v after %d; want at least %d",
			after.Numbers["m-in"], after.Snapshots, before, st.Snapshots, want)
	}

	// A close with an application code shows among the recent closes.
	if err := conns["websocket"].Write(ctx, session.Text, []byte("bye:4001")); err != nil {
		t.Fatal(err)
	}
	var ce *session.CloseError
	for err == nil || !errors.As(err, &ce) {
		_, _, err = conns["websocket"].Read(ctx)
	}
	page.call(t, map[string]any{"op": "waitClose", "code": 4001}, nil)
	page.call(t, map[string]any{"op": "state"}, &after)
	if len(after.Closes) == 0 || after.Closes[0][1] != "4001" || after.Closes[0][3] != "websocket" {
		t.Errorf("recent closes %v, want 4001 on websocket first", after.Closes)
	}
	if after.ChartInk == 0 {
		t.Error("the messages-per-second chart drew nothing")
	}

	// The screenshot goes to a temporary file; make compat (LIFELINE_COMPAT) also
	// keeps it as docs/inspector.png.
	shot := filepath.Join(t.TempDir(), "inspector.png")
	if os.Getenv("LIFELINE_COMPAT") != "" {
		var err error
		if shot, err = filepath.Abs("../docs/inspector.png"); err != nil {
			t.Fatal(err)
		}
	}
	page.call(t, map[string]any{"op": "screenshot", "path": shot}, nil)
	checkScreenshot(t, shot)
	t.Logf("screenshot: %s", shot)
}

// checkScreenshot decodes the PNG and checks it shows a rendered page: big enough,
// many colours, and most of it not the background's.
func checkScreenshot(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	b := img.Bounds()
	if b.Dx() < 1000 || b.Dy() < 600 {
		t.Fatalf("screenshot is %v, want at least 1000×600", b.Size())
	}
	bg := img.At(b.Max.X-1, b.Max.Y-1)
	colours := map[[4]uint32]bool{}
	other := 0
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			c := img.At(x, y)
			r, g, bl, a := c.RGBA()
			colours[[4]uint32{r >> 8, g >> 8, bl >> 8, a >> 8}] = true
			if r0, g0, b0, _ := bg.RGBA(); r != r0 || g != g0 || bl != b0 {
				other++
			}
		}
	}
	if share := float64(other) / float64(b.Dx()*b.Dy()); len(colours) < 50 || share < 0.2 {
		t.Errorf("screenshot looks blank: %d colours, %.0f%% not the background", len(colours), 100*share)
	}
}
