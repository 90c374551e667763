package transport

import (
	"encoding/json"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/lifelinehq/lifeline/closecode"
)

// The tests in this file hold docs/protocol.md to the code: its examples byte for byte
// and its close code table.

// specSection returns the lines of docs/protocol.md from the heading line on, up to the
// next heading of the same or a higher level.
func specSection(t *testing.T, heading string) []string {
	t.Helper()
	doc, err := os.ReadFile("../docs/protocol.md")
	if err != nil {
		t.Fatal(err)
	}
	level := strings.Index(heading, " ") // number of '#'
	lines := strings.Split(string(doc), "\n")
	for i, line := range lines {
		if line != heading {
			continue
		}
		end := i + 1
		for ; end < len(lines); end++ {
			if h := strings.Index(lines[end], "# "); h >= 0 && h < level && strings.Trim(lines[end][:h+1], "#") == "" {
				break
			}
		}
		return lines[i:end]
	}
	t.Fatalf("docs/protocol.md has no heading %q", heading)
	return nil
}

// firstCodeBlock returns the contents of the first fenced code block in lines, each
// line ending with LF.
func firstCodeBlock(t *testing.T, lines []string) string {
	t.Helper()
	start := -1
	for i, line := range lines {
		if !strings.HasPrefix(line, "```") {
			continue
		}
		if start < 0 {
			start = i + 1
			continue
		}
		var b strings.Builder
		for _, l := range lines[start:i] {
			b.WriteString(l + "\n")
		}
		return b.String()
	}
	t.Fatal("no fenced code block")
	return ""
}

func TestSpecHTTPBody(t *testing.T) {
	example := firstCodeBlock(t, specSection(t, "### HTTP bodies"))
	frames := []string{"A7", "S12", "Mhello", "Mtwo\nlines"}
	var body []byte
	for _, f := range frames {
		body = AppendEvent(body, []byte(f))
	}
	if string(body) != example {
		t.Errorf("AppendEvent of %q gives\n%q\nthe spec shows\n%q", frames, body, example)
	}
	rd := NewReader(strings.NewReader(example), 1<<10)
	for _, want := range frames {
		f, err := rd.Next()
		if err != nil {
			t.Fatalf("reading the spec's body: %v", err)
		}
		if got := encodeFrame(f); string(got) != want {
			t.Errorf("frame from the spec's body: %q, want %q", got, want)
		}
	}
	if _, err := rd.Next(); err != io.EOF {
		t.Errorf("after the last frame: %v, want io.EOF", err)
	}
}

// exampleLine returns the first example in lines that starts with prefix: a whole line,
// or a `code span` that opens a line.
func exampleLine(t *testing.T, lines []string, prefix string) string {
	t.Helper()
	for _, line := range lines {
		if span, ok := strings.CutPrefix(line, "`"); ok {
			line, _, _ = strings.Cut(span, "`")
		}
		if strings.HasPrefix(line, prefix) {
			return line
		}
	}
	t.Fatalf("no example line starting with %q", prefix)
	return ""
}

// specExample decodes the example frame starting with prefix in lines and checks that
// the package encodes it back byte for byte.
func specExample[T comparable](t *testing.T, h handshake[T], lines []string, prefix string) (*T, []byte) {
	t.Helper()
	line := []byte(exampleLine(t, lines, prefix))
	v, err := h.parse(line)
	if err != nil {
		t.Fatalf("decoding the spec's %s: %v", line, err)
	}
	if got := h.encode(nil, v); string(got) != string(line) {
		t.Errorf("encoding the spec's example gives\n%s\nthe spec shows\n%s", got, line)
	}
	return v, line
}

func TestSpecHello(t *testing.T) {
	section := specSection(t, "## 3. Handshake")
	h, line := specExample(t, helloFrames, section, "H{")
	want := Hello{V: 1, SessionID: "7f0c2a4e-3f5a-4d6e-9b1f-2a3c4d5e6f70", Token: "q3vJ0x1YfQd9m4H2kLr7pA",
		Heartbeat: 15000, HBTimeout: 10000, Resume: 60000, MaxMessage: 65536, MaxBatch: 100,
		MaxBody: 1 << 20, MaxQueued: 1 << 20}
	if *h != want {
		t.Errorf("spec hello decodes to %+v, want %+v", *h, want)
	}

	// The field table names exactly the example's fields.
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(line[1:], &fields); err != nil {
		t.Fatal(err)
	}
	named := map[string]bool{}
	for _, row := range section {
		cells := strings.Split(row, "|")
		if len(cells) < 3 || !strings.HasPrefix(strings.TrimSpace(cells[1]), "`") {
			continue
		}
		for _, name := range strings.Split(cells[1], ",") {
			named[strings.Trim(strings.TrimSpace(name), "`")] = true
		}
	}
	for name := range fields {
		if !named[name] {
			t.Errorf("hello field %q is not in the spec's field table", name)
		}
	}
	for name := range named {
		if _, ok := fields[name]; !ok {
			t.Errorf("the spec's field table names %q, which the example lacks", name)
		}
	}
}

func TestSpecResume(t *testing.T) {
	r, _ := specExample(t, resumeFrames, specSection(t, "## 3. Handshake"), "R{")
	if r.V != 1 || r.SessionID == "" || r.Token == "" || r.Ack != 41 || r.Conn != 3 {
		t.Errorf("spec resume decodes to %+v", *r)
	}
}

// TestSpecHTTPStatus checks the HTTP column of the close code table (the actions are
// package closecode's, checked there).
func TestSpecHTTPStatus(t *testing.T) {
	rows := 0
	for _, row := range specSection(t, "## 7. Close codes") {
		cells := strings.Split(row, "|")
		if len(cells) != 6 {
			continue
		}
		code, err := strconv.Atoi(strings.TrimSpace(cells[1]))
		if err != nil {
			continue // header or separator row
		}
		rows++
		status := 0
		if s := strings.TrimSpace(cells[2]); s != "-" {
			if status, err = strconv.Atoi(s); err != nil {
				t.Errorf("code %d: HTTP column %q", code, s)
			}
		}
		if got := HTTPStatus(closecode.Code(code)); got != status {
			t.Errorf("code %d: HTTPStatus = %d, the spec says %d", code, got, status)
		}
	}
	if rows < 10 {
		t.Fatalf("found %d rows in the close code table", rows)
	}
}
