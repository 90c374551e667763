package transport

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// readAll reads frames from body until an error, copying each frame's Data.
func readAll(r io.Reader, limit int) ([]Frame, error) {
	rd := NewReader(r, limit)
	var frames []Frame
	for {
		f, err := rd.Next()
		if err != nil {
			return frames, err
		}
		f.Data = bytes.Clone(f.Data)
		frames = append(frames, f)
	}
}

// chunkings feed a body to a Reader in different pieces; none may change the result.
var chunkings = map[string]func(io.Reader) io.Reader{
	"whole":    func(r io.Reader) io.Reader { return r },
	"one byte": iotest.OneByteReader,
	"half":     iotest.HalfReader,
	"data+err": iotest.DataErrReader,
}

// checkBody decodes body with every chunking and compares frames and the final error.
func checkBody(t *testing.T, body string, limit int, want []Frame, wantErr error) {
	t.Helper()
	for name, chunk := range chunkings {
		got, err := readAll(chunk(strings.NewReader(body)), limit)
		if !errors.Is(err, wantErr) {
			t.Errorf("%s: body %.80q: error %v, want %v", name, body, err, wantErr)
		}
		if len(got) != len(want) {
			t.Errorf("%s: body %.80q: got %d frames %v, want %d %v", name, body, len(got), got, len(want), want)
			continue
		}
		for i := range want {
			if !sameFrame(got[i], want[i]) {
				t.Errorf("%s: body %.80q: frame %d = %v, want %v", name, body, i, got[i], want[i])
			}
		}
	}
}

func text(s string) Frame { return Frame{Type: FrameText, Data: []byte(s)} }

func TestAppendEvent(t *testing.T) {
	tests := []struct{ frame, want string }{
		{"A7", "data:A7\n\n"},
		{"P", "data:P\n\n"},
		{"Mtwo\nlines", "data:Mtwo\ndata:lines\n\n"},
		{"M\n", "data:M\ndata:\n\n"},
		{"M\n\n", "data:M\ndata:\ndata:\n\n"},
		{"Ma\r\nb", "data:Ma\r\ndata:b\n\n"},
		{"Ma\rb", "data:Ma\rb\n\n"},
		{"Mtwo\n lines", "data:Mtwo\ndata:  lines\n\n"}, // one more space (§2)
		{"M\n\n ", "data:M\ndata:\ndata:  \n\n"},
	}
	for _, tc := range tests {
		if got := AppendEvent(nil, []byte(tc.frame)); string(got) != tc.want {
			t.Errorf("AppendEvent(%q) = %q, want %q", tc.frame, got, tc.want)
		}
	}
}

// roundTripFrames are encoded with AppendEvent, one after the other, and read back.
var roundTripFrames = []string{
	"A7", "S12", "Mhello", "Mtwo\nlines", "M", "M\n", "M\n\n\n", "M\nlead", "Mtrail\n",
	"Mcr\r", "Mcr\r\nlf", "M\r", "Mdata:inside", "M:not a comment", "M\x00nul",
	"Mtwo  spaces", "M  lead", "Mtab\n\tline", "Mdata: x\ndata: y", "Bdata", "BaGk=",
	"P", "C1000", "C4409 superseded", "H{\"v\":1}", "R{\"v\":1}", "A0", "S" + maxNum,
	"M" + strings.Repeat("x", 4090), "M" + strings.Repeat("y", 4091), "M" + strings.Repeat("z", 10000),
	"M" + strings.Repeat("line\n", 2000),
	// Lines beginning with a space, as in pretty-printed JSON: Reader drops one space
	// after "data:", so AppendEvent must write one more.
	"Mtwo\n lines", "M{\n  \"a\": 1\n}", "M\n ", "M\n\n  ",
	// Request frames: the space after the id, and text with lines of its own.
	"Q1 ", "Q2 {\"a\":1}", "Q3  lead", "Y1 two\n lines", "Y" + maxNum + " ", "X1 no request handler", "X2 \n",
}

func TestEventRoundTrip(t *testing.T) {
	var body []byte
	var want []Frame
	for _, s := range roundTripFrames {
		f, err := ParseFrame([]byte(s))
		if err != nil {
			t.Fatalf("ParseFrame(%q): %v", s, err)
		}
		want = append(want, f)
		body = AppendEvent(body, []byte(s))
	}
	checkBody(t, string(body), 1<<20, want, io.EOF)
}

func TestReader(t *testing.T) {
	a := func(n uint64) Frame { return Frame{Type: FrameAck, Num: n} }
	tests := []struct {
		name string
		body string
		want []Frame
		err  error
	}{
		{"empty body", "", nil, io.EOF},
		{"blank lines only", "\n\n\n", nil, io.EOF},
		{"one frame", "data:A7\n\n", []Frame{a(7)}, io.EOF},
		{"leading blank lines", "\n\ndata:A7\n\n\n\n", []Frame{a(7)}, io.EOF},
		{"one space ignored", "data: A7\n\n", []Frame{a(7)}, io.EOF},
		{"only one space ignored", "data:Mx\ndata:  y\n\n", []Frame{text("x\n y")}, io.EOF},
		{"two spaces before type", "data:  A7\n\n", nil, ErrMalformed},
		{"tab not ignored", "data:\tA7\n\n", nil, ErrMalformed},
		{"multi-line", "data:Mtwo\ndata:lines\n\n", []Frame{text("two\nlines")}, io.EOF},
		{"empty data lines", "data:M\ndata:\ndata:\n\n", []Frame{text("\n\n")}, io.EOF},
		{"comments", ":hello\ndata:A1\n: more\n\n:x\n\n", []Frame{a(1)}, io.EOF},
		{"comment only event", ":keepalive\n\ndata:A2\n\n", []Frame{a(2)}, io.EOF},
		{"other fields", "event: msg\nid: 4\nretry: 10\ndata:A3\nfoo\n\n", []Frame{a(3)}, io.EOF},
		{"field names are exact", "Data:A1\n\ndata :A1\n\ndat:A1\n\n", nil, io.EOF},
		{"CR stays in data", "data:Ma\r\n\n", []Frame{text("a\r")}, io.EOF},
		{"CRLF does not end a number", "data:A7\r\n\n", nil, ErrMalformed},
		{"CR line is not blank", "data:A7\n\r\n", nil, io.ErrUnexpectedEOF},
		{"CR alone is not a line end", "data:Ma\rdata:b\n\n", []Frame{text("a\rdata:b")}, io.EOF},
		{"several frames", "data:A7\n\ndata:S12\n\ndata:Mhello\n\n", []Frame{a(7), {Type: 'S', Num: 12}, text("hello")}, io.EOF},
		{"empty frame", "data:\n\n", nil, ErrMalformed},
		{"unknown type", "data:X\n\n", nil, ErrMalformed},
		{"bad UTF-8", "data:M\xff\n\n", nil, ErrMalformed},
		{"ends without LF", "data:A7", nil, io.ErrUnexpectedEOF},
		{"ends after data line", "data:A7\n", nil, io.ErrUnexpectedEOF},
		{"ends inside second event", "data:A7\n\ndata:A8\n", []Frame{a(7)}, io.ErrUnexpectedEOF},
		{"ends inside multi-line event", "data:Ma\ndata:b", nil, io.ErrUnexpectedEOF},
		{"ends after comment in event", "data:A7\n:c\n", nil, io.ErrUnexpectedEOF},
		{"ends mid long line", "data:M" + strings.Repeat("x", 5000), nil, io.ErrUnexpectedEOF},
		{"ends after long line", "data:M" + strings.Repeat("x", 5000) + "\n", nil, io.ErrUnexpectedEOF},
		{"long comment ignored", ":" + strings.Repeat("c", 5000) + "\ndata:A9\n\n", []Frame{a(9)}, io.EOF},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			checkBody(t, tc.body, 1<<16, tc.want, tc.err)
		})
	}
}

func TestReaderLineLengthsAroundBuffer(t *testing.T) {
	// bufio holds 4096 bytes: lines just below, at and above it, as data and as comment.
	for n := 4080; n <= 4100; n++ {
		msg := strings.Repeat("x", n)
		body := ":" + msg + "\n" + "data: M" + msg + "\n\n"
		checkBody(t, body, n+1, []Frame{text(msg)}, io.EOF)
	}
}

func TestReaderLimit(t *testing.T) {
	long := func(n int) string { return "M" + strings.Repeat("x", n-1) }
	tests := []struct {
		name  string
		body  string
		limit int
		want  []Frame
		err   error
	}{
		{"at the limit", "data:" + long(10) + "\n\n", 10, []Frame{text(long(10)[1:])}, io.EOF},
		{"at the limit with space", "data: " + long(10) + "\n\n", 10, []Frame{text(long(10)[1:])}, io.EOF},
		{"one over", "data:" + long(11) + "\n\n", 10, nil, ErrTooLarge},
		{"over across lines", "data:M1234\ndata:56789\n\n", 10, nil, ErrTooLarge}, // the joining LF counts
		{"at limit across lines", "data:M1234\ndata:5678\n\n", 10, []Frame{text("1234\n5678")}, io.EOF},
		{"over after a good frame", "data:A1\n\ndata:" + long(11) + "\n\n", 10, []Frame{{Type: 'A', Num: 1}}, ErrTooLarge},
		{"long line, small limit", "data:" + long(5000) + "\n\n", 100, nil, ErrTooLarge},
		{"long line without end", "data:" + long(1<<20), 100, nil, ErrTooLarge},
		{"long line, at limit", "data: " + long(9000) + "\n\n", 9000, []Frame{text(long(9000)[1:])}, io.EOF},
		{"long line, one over", "data: " + long(9001) + "\n\n", 9000, nil, ErrTooLarge},
		{"many long lines", strings.Repeat("data:"+strings.Repeat("y", 4000)+"\n", 10) + "\n", 20000, nil, ErrTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			checkBody(t, tc.body, tc.limit, tc.want, tc.err)
		})
	}
}

func TestReaderEOFIsSticky(t *testing.T) {
	rd := NewReader(strings.NewReader("data:P\n\n"), 100)
	if f, err := rd.Next(); err != nil || f.Type != FramePing {
		t.Fatalf("Next = %v, %v; want P", f, err)
	}
	for range 3 {
		if _, err := rd.Next(); err != io.EOF {
			t.Fatalf("Next after the end = %v, want io.EOF", err)
		}
	}
}

func TestReaderPassesReadErrors(t *testing.T) {
	boom := errors.New("boom")
	for _, body := range []string{"data:A1\n\n", "data:A1\n\ndata:A", "data:A1\n\n" + strings.Repeat("z", 5000)} {
		r := io.MultiReader(strings.NewReader(body), iotest.ErrReader(boom))
		got, err := readAll(r, 1<<16)
		if !errors.Is(err, boom) || len(got) != 1 || got[0].Num != 1 {
			t.Errorf("body %.20q then an error: frames %v, error %v; want A1 then boom", body, got, err)
		}
	}
}
