package transport

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/lifelinehq/lifeline/closecode"
)

// encodeFrame writes f back in its wire form with the package's Append functions.
func encodeFrame(f Frame) []byte {
	switch f.Type {
	case FrameText:
		return AppendText(nil, f.Data)
	case FrameBinary:
		return AppendBinary(nil, f.Data)
	case FrameAck, FrameSeq:
		return AppendNum(nil, f.Type, f.Num)
	case FrameClose:
		return AppendClose(nil, closecode.Code(f.Num), string(f.Data))
	case FrameRequest, FrameReply, FrameFailure:
		return AppendCall(nil, f.Type, f.Num, f.Data)
	}
	return append([]byte{f.Type}, f.Data...) // P, H, R
}

// sameFrame compares frames, treating nil and empty Data alike.
func sameFrame(a, b Frame) bool {
	return a.Type == b.Type && a.Num == b.Num && bytes.Equal(a.Data, b.Data)
}

func (f Frame) String() string { return fmt.Sprintf("{%q %d %q}", f.Type, f.Num, f.Data) }

var (
	reason123 = strings.Repeat("r", MaxReasonBytes)
	maxUint   = "18446744073709551615"
	maxNum    = "9007199254740991" // 2^53-1, MaxNum
	overNum   = "9007199254740992" // 2^53
)

// parseFrameCases are the ParseFrame table; the fuzz targets use them as seeds too.
var parseFrameCases = []struct {
	in   string
	want Frame
	ok   bool
}{
	// Good frames, every type.
	{in: `H{"v":1}`, want: Frame{Type: 'H', Data: []byte(`{"v":1}`)}, ok: true},
	{in: `H`, want: Frame{Type: 'H'}, ok: true},
	{in: `R{"v":1,"sid":"s","token":"t"}`, want: Frame{Type: 'R', Data: []byte(`{"v":1,"sid":"s","token":"t"}`)}, ok: true},
	{in: "S1", want: Frame{Type: 'S', Num: 1}, ok: true},
	{in: "S12", want: Frame{Type: 'S', Num: 12}, ok: true},
	{in: "S" + maxNum, want: Frame{Type: 'S', Num: MaxNum}, ok: true},
	{in: "M", want: Frame{Type: 'M'}, ok: true},
	{in: "Mhello", want: Frame{Type: 'M', Data: []byte("hello")}, ok: true},
	{in: "Mtwo\nlines", want: Frame{Type: 'M', Data: []byte("two\nlines")}, ok: true},
	{in: "M héllo, 世界 😀", want: Frame{Type: 'M', Data: []byte(" héllo, 世界 😀")}, ok: true},
	{in: "M\x00\r\n", want: Frame{Type: 'M', Data: []byte("\x00\r\n")}, ok: true},
	{in: "B", want: Frame{Type: 'B'}, ok: true},
	{in: "BaGk=", want: Frame{Type: 'B', Data: []byte("hi")}, ok: true},
	{in: "BAAEC/w==", want: Frame{Type: 'B', Data: []byte{0, 1, 2, 255}}, ok: true},
	{in: "B+/+/", want: Frame{Type: 'B', Data: []byte{0xfb, 0xff, 0xbf}}, ok: true},
	{in: "A0", want: Frame{Type: 'A'}, ok: true},
	{in: "A7", want: Frame{Type: 'A', Num: 7}, ok: true},
	{in: "A" + maxNum, want: Frame{Type: 'A', Num: MaxNum}, ok: true},
	{in: "P", want: Frame{Type: 'P'}, ok: true},
	{in: "C1000", want: Frame{Type: 'C', Num: 1000}, ok: true},
	{in: "C1000 ", want: Frame{Type: 'C', Num: 1000}, ok: true},
	{in: "C4999", want: Frame{Type: 'C', Num: 4999}, ok: true},
	{in: "C4409 superseded", want: Frame{Type: 'C', Num: 4409, Data: []byte("superseded")}, ok: true},
	{in: "C4400 bad  frame ", want: Frame{Type: 'C', Num: 4400, Data: []byte("bad  frame ")}, ok: true},
	{in: "C4503 arrêt", want: Frame{Type: 'C', Num: 4503, Data: []byte("arrêt")}, ok: true},
	{in: "C1000 " + reason123, want: Frame{Type: 'C', Num: 1000, Data: []byte(reason123)}, ok: true},
	{in: `Q1 {"op":"sum","args":[1,2]}`, want: Frame{Type: 'Q', Num: 1, Data: []byte(`{"op":"sum","args":[1,2]}`)}, ok: true},
	{in: "Q7 ", want: Frame{Type: 'Q', Num: 7}, ok: true},
	{in: "Q" + maxNum + " x", want: Frame{Type: 'Q', Num: MaxNum, Data: []byte("x")}, ok: true},
	{in: "Y1 3", want: Frame{Type: 'Y', Num: 1, Data: []byte("3")}, ok: true},
	{in: "Y2  two\nlines \r", want: Frame{Type: 'Y', Num: 2, Data: []byte(" two\nlines \r")}, ok: true},
	{in: "Y9 ", want: Frame{Type: 'Y', Num: 9}, ok: true},
	{in: "X3 no request handler", want: Frame{Type: 'X', Num: 3, Data: []byte("no request handler")}, ok: true},
	{in: "X4 ", want: Frame{Type: 'X', Num: 4}, ok: true},
	{in: "X5 arrêt 世界", want: Frame{Type: 'X', Num: 5, Data: []byte("arrêt 世界")}, ok: true},

	// Bad frames.
	{in: ""},
	{in: "S" + overNum}, // numbers stop at 2^53-1 (§10)
	{in: "A" + overNum},
	{in: "A" + maxUint},
	{in: "C1004"}, // close codes a WebSocket close frame cannot carry (§10)
	{in: "C1005"},
	{in: "C1006"},
	{in: "C1015"},
	{in: "C2000"},
	{in: "C2999"},
	{in: "X"},
	{in: "x1"},
	{in: "m"},
	{in: "a7"},
	{in: " A7"},
	{in: "\x00"},
	{in: "\xff"},
	{in: "M\xff"},
	{in: "Mh\xc3"},        // truncated rune
	{in: "M\xed\xa0\x80"}, // surrogate
	{in: "M\xc0\x80"},     // overlong
	{in: "B!!!!"},         // not base64
	{in: "BQR=="},         // non-zero padding bits (strict base64)
	{in: "B/w\nA="},       // a line break inside base64
	{in: "B/w\rA="},       // a carriage return inside base64
	{in: "BaGk"},          // missing padding
	{in: "BaGk=="},        // too much padding
	{in: "BaG=k"},         // padding inside
	{in: "BaGk_-=="},      // URL alphabet
	{in: "S0"},            // sequence numbers start at 1
	{in: "S"},             // no number
	{in: "S01"},           // leading zero
	{in: "S+1"},           // sign
	{in: "S-1"},           // sign
	{in: "S 1"},           // space
	{in: "S1 "},           // trailing space
	{in: "S1\n"},          // trailing LF
	{in: "S0x10"},         // hex
	{in: "S1e3"},          // exponent
	{in: "S" + "1" + strings.Repeat("0", 20)}, // 21 digits
	{in: "S18446744073709551616"},             // 2^64
	{in: "S99999999999999999999"},             // 20 digits, overflows
	{in: "A"},
	{in: "A00"},
	{in: "A-0"},
	{in: "A+7"},
	{in: "A1.0"},
	{in: "A" + strings.Repeat("0", 21)},
	{in: "A18446744073709551616"},
	{in: "A184467440737095516150"},
	{in: "P1"},
	{in: "P "},
	{in: "C"},
	{in: "C100"},                           // three digits
	{in: "C999"},                           // below range, short
	{in: "C0999"},                          // leading zero
	{in: "C0000"},                          // leading zero
	{in: "C5000"},                          // above range
	{in: "C9999"},                          // above range
	{in: "C99999"},                         // five digits
	{in: "C10000"},                         // five digits
	{in: "C+100"},                          // sign
	{in: "C-100"},                          // sign
	{in: "C1000x"},                         // no space before the reason
	{in: "C1000reason"},                    // no space before the reason
	{in: "C1000\treason"},                  // tab is not the space
	{in: "C 1000 reason"},                  // space before the code
	{in: "C1000 " + reason123 + "r"},       // reason of 124 bytes
	{in: "C1000 \xff"},                     // reason not UTF-8
	{in: "C1000 " + reason123[:122] + "é"}, // 124 bytes
	{in: "Q"},                              // no id, no space
	{in: "Q1"},                             // no space: the SP is always there
	{in: "Q "},                             // no id
	{in: "Q0 x"},                           // ids start at 1
	{in: "Q01 x"},                          // leading zero
	{in: "Q-1 x"},                          // sign
	{in: "Q" + overNum + " x"},             // over 2^53-1
	{in: "Q1\tx"},                          // tab is not the space
	{in: "Q1\nx"},                          // LF is not the space
	{in: "Q1 \xff"},                        // payload not UTF-8
	{in: "Y"},
	{in: "Y1"},
	{in: "Y0 "},
	{in: "Yx "},
	{in: "Y1 \xed\xa0\x80"}, // surrogate
	{in: "X"},
	{in: "X1"},
	{in: "X0 why"},
	{in: "X 1 why"},
	{in: "X1 \xc0\x80"}, // overlong
	{in: "q1 x"},
	{in: "y1 x"},
}

func TestParseFrame(t *testing.T) {
	for _, tc := range parseFrameCases {
		got, err := ParseFrame([]byte(tc.in))
		if !tc.ok {
			if err == nil {
				t.Errorf("ParseFrame(%q) = %v, want an error", tc.in, got)
			} else if !errors.Is(err, ErrMalformed) {
				t.Errorf("ParseFrame(%q) error %v does not wrap ErrMalformed", tc.in, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseFrame(%q): %v", tc.in, err)
			continue
		}
		if !sameFrame(got, tc.want) {
			t.Errorf("ParseFrame(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestParseFrameDataAliasesInput(t *testing.T) {
	for _, in := range []string{"Mhello", `H{"v":1}`, `R{"v":1}`, "C4400 why", "Q1 ask", "Y1 yes", "X1 no"} {
		b := []byte(in)
		f, err := ParseFrame(b)
		if err != nil {
			t.Fatalf("ParseFrame(%q): %v", in, err)
		}
		if len(f.Data) == 0 || &f.Data[len(f.Data)-1] != &b[len(b)-1] {
			t.Errorf("ParseFrame(%q): Data does not alias the input", in)
		}
	}
	// Binary data is decoded into its own buffer.
	b := []byte("BaGk=")
	f, err := ParseFrame(b)
	if err != nil {
		t.Fatal(err)
	}
	copy(b, "xxxxx")
	if string(f.Data) != "hi" {
		t.Errorf("binary Data changed with the input: %q", f.Data)
	}
}

func TestParseNum(t *testing.T) {
	tests := []struct {
		in   string
		want uint64
		ok   bool
	}{
		{"0", 0, true},
		{"1", 1, true},
		{"9", 9, true},
		{"10", 10, true},
		{"4409", 4409, true},
		{"9007199254740990", MaxNum - 1, true},
		{maxNum, MaxNum, true},
		{overNum, 0, false},
		{"9999999999999999", 0, false},     // 16 digits, over 2^53-1
		{"12345678901234567890", 0, false}, // 20 digits
		{"18446744073709551614", 0, false}, // 2^64-2: wraps nothing, but over the bound
		{maxUint, 0, false},                // 2^64-1: conn+1 would wrap to 0
		{"00000000000000001", 0, false},    // 17 digits
		{"", 0, false},
		{"00", 0, false},
		{"01", 0, false},
		{"007", 0, false},
		{"+1", 0, false},
		{"-1", 0, false},
		{"-0", 0, false},
		{" 1", 0, false},
		{"1 ", 0, false},
		{"1_000", 0, false},
		{"1a", 0, false},
		{"a", 0, false},
		{"١", 0, false}, // Arabic-Indic digit one
		{"18446744073709551616", 0, false},
		{"18446744073709551620", 0, false},
		{"20000000000000000000", 0, false},
		{"99999999999999999999", 0, false},
		{"100000000000000000000", 0, false}, // 21 digits
		{"000000000000000000001", 0, false}, // 21 digits, leading zeros
	}
	for _, tc := range tests {
		got, err := ParseNum([]byte(tc.in))
		switch {
		case tc.ok && err != nil:
			t.Errorf("ParseNum(%q): %v", tc.in, err)
		case tc.ok && got != tc.want:
			t.Errorf("ParseNum(%q) = %d, want %d", tc.in, got, tc.want)
		case !tc.ok && err == nil:
			t.Errorf("ParseNum(%q) = %d, want an error", tc.in, got)
		case !tc.ok && !errors.Is(err, ErrMalformed):
			t.Errorf("ParseNum(%q) error %v does not wrap ErrMalformed", tc.in, err)
		}
	}
}

func TestAppendRoundTrip(t *testing.T) {
	allBytes := make([]byte, 256)
	for i := range allBytes {
		allBytes[i] = byte(i)
	}
	frames := []struct {
		f    Frame
		wire string // "" when not checked byte for byte
	}{
		{Frame{Type: 'M'}, "M"},
		{Frame{Type: 'M', Data: []byte("hello")}, "Mhello"},
		{Frame{Type: 'M', Data: []byte("two\nlines\r\n")}, "Mtwo\nlines\r\n"},
		{Frame{Type: 'M', Data: []byte("世界 😀")}, "M世界 😀"},
		{Frame{Type: 'B'}, "B"},
		{Frame{Type: 'B', Data: []byte("hi")}, "BaGk="},
		{Frame{Type: 'B', Data: []byte{0xfb, 0xff, 0xbf}}, "B+/+/"},
		{Frame{Type: 'B', Data: allBytes}, ""},
		{Frame{Type: 'A'}, "A0"},
		{Frame{Type: 'A', Num: 41}, "A41"},
		{Frame{Type: 'A', Num: MaxNum}, "A" + maxNum},
		{Frame{Type: 'S', Num: 1}, "S1"},
		{Frame{Type: 'S', Num: MaxNum}, "S" + maxNum},
		{Frame{Type: 'C', Num: 1000}, "C1000"},
		{Frame{Type: 'C', Num: 4409, Data: []byte("superseded")}, "C4409 superseded"},
		{Frame{Type: 'C', Num: 4400, Data: []byte(reason123)}, "C4400 " + reason123},
		{Frame{Type: 'P'}, "P"},
		{Frame{Type: 'Q', Num: 1}, "Q1 "},
		{Frame{Type: 'Q', Num: 12, Data: []byte(`{"a":1}`)}, `Q12 {"a":1}`},
		{Frame{Type: 'Y', Num: MaxNum, Data: []byte("two\nlines")}, "Y" + maxNum + " two\nlines"},
		{Frame{Type: 'X', Num: 3, Data: []byte("no request handler")}, "X3 no request handler"},
	}
	for _, tc := range frames {
		b := encodeFrame(tc.f)
		if tc.wire != "" && string(b) != tc.wire {
			t.Errorf("encoding %v = %q, want %q", tc.f, b, tc.wire)
		}
		got, err := ParseFrame(b)
		if err != nil || !sameFrame(got, tc.f) {
			t.Errorf("ParseFrame(%q) = %v, %v; want %v", b, got, err, tc.f)
		}
	}
}

func TestAppendKeepsPrefix(t *testing.T) {
	appends := map[string]func([]byte) []byte{
		"AppendText":   func(b []byte) []byte { return AppendText(b, []byte("x")) },
		"AppendBinary": func(b []byte) []byte { return AppendBinary(b, []byte("x")) },
		"AppendNum":    func(b []byte) []byte { return AppendNum(b, FrameAck, 5) },
		"AppendClose":  func(b []byte) []byte { return AppendClose(b, 1000, "x") },
		"AppendCall":   func(b []byte) []byte { return AppendCall(b, FrameRequest, 7, []byte("x")) },
		"AppendHello":  func(b []byte) []byte { return AppendHello(b, &Hello{V: 1, SessionID: "s"}) },
		"AppendResume": func(b []byte) []byte { return AppendResume(b, &ResumeReq{V: 1}) },
		"AppendEvent":  func(b []byte) []byte { return AppendEvent(b, []byte("P")) },
	}
	for name, fn := range appends {
		got := fn([]byte("prefix|"))
		if !bytes.HasPrefix(got, []byte("prefix|")) || len(got) == len("prefix|") {
			t.Errorf("%s(prefix) = %q: prefix lost or nothing appended", name, got)
		}
		if !bytes.Equal(got[len("prefix|"):], fn(nil)) {
			t.Errorf("%s(prefix) appended %q, want %q", name, got[len("prefix|"):], fn(nil))
		}
	}
}

func TestAppendCloseCutsReason(t *testing.T) {
	tests := []struct {
		reason, want string
	}{
		{"", ""},
		{reason123, reason123},
		{reason123 + "x", reason123},
		{strings.Repeat("x", 1000), strings.Repeat("x", MaxReasonBytes)},
		{strings.Repeat("a", 122) + "é", strings.Repeat("a", 122)},       // é straddles byte 123
		{strings.Repeat("a", 121) + "é", strings.Repeat("a", 121) + "é"}, // é ends at byte 123
		{strings.Repeat("a", 121) + "€", strings.Repeat("a", 121)},       // 3-byte rune cut after 2
		{strings.Repeat("a", 122) + "€", strings.Repeat("a", 122)},       // cut after 1
		{strings.Repeat("a", 120) + "€!", strings.Repeat("a", 120) + "€"},
	}
	for _, tc := range tests {
		f, err := ParseFrame(AppendClose(nil, closecode.Normal, tc.reason))
		if err != nil {
			t.Errorf("AppendClose(%q) does not parse: %v", tc.reason, err)
			continue
		}
		if f.Num != uint64(closecode.Normal) || string(f.Data) != tc.want {
			t.Errorf("AppendClose(%q) reason = %q, want %q", tc.reason, f.Data, tc.want)
		}
		if got := Reason(tc.reason); got != tc.want {
			t.Errorf("Reason(%q) = %q, want %q", tc.reason, got, tc.want)
		}
	}
	// A 4-byte rune at every position around the limit: the cut keeps the longest
	// valid prefix of at most MaxReasonBytes.
	for off := MaxReasonBytes - 8; off <= MaxReasonBytes+1; off++ {
		reason := strings.Repeat("a", off) + "😀" + strings.Repeat("b", 10)
		f, err := ParseFrame(AppendClose(nil, closecode.Protocol, reason))
		if err != nil {
			t.Fatalf("offset %d: %v", off, err)
		}
		got := string(f.Data)
		want := reason[:MaxReasonBytes]
		for !utf8.ValidString(want) {
			want = want[:len(want)-1]
		}
		if got != want || !strings.HasPrefix(reason, got) || len(got) < MaxReasonBytes-3 {
			t.Errorf("offset %d: reason cut to %d bytes %q, want %q", off, len(got), got, want)
		}
	}
}

func TestFailureCuts(t *testing.T) {
	long := strings.Repeat("a", MaxFailureBytes-1) + "é" + strings.Repeat("b", 50)
	for _, tc := range []struct{ msg, want string }{
		{"", ""},
		{"boom", "boom"},
		{strings.Repeat("x", MaxFailureBytes), strings.Repeat("x", MaxFailureBytes)},
		{strings.Repeat("x", MaxFailureBytes+1), strings.Repeat("x", MaxFailureBytes)},
		{long, strings.Repeat("a", MaxFailureBytes-1)}, // é straddles the limit
	} {
		got := Failure(tc.msg)
		f, err := ParseFrame(AppendCall(nil, FrameFailure, 9, []byte(got)))
		if got != tc.want || err != nil || f.Num != 9 || string(f.Data) != tc.want {
			t.Errorf("Failure(%d bytes) = %d bytes, which parses to %v, %v; want %d bytes", len(tc.msg), len(got), f, err, len(tc.want))
		}
	}
}
