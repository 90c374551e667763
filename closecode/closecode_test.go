package closecode

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

// specTables reads the two tables of docs/protocol.md §7: each code the first names,
// and each code of 0-4999 the second covers ("none" is 0), with the client action the
// spec gives it.
func specTables(t *testing.T) (named, rest map[Code]string) {
	t.Helper()
	doc, err := os.ReadFile("../docs/protocol.md")
	if err != nil {
		t.Fatal(err)
	}
	sec := string(doc)
	i := strings.Index(sec, "\n## 7. Close codes")
	if i < 0 {
		t.Fatal("docs/protocol.md has no §7")
	}
	sec = sec[i+1:]
	if j := strings.Index(sec, "\n## 8."); j > 0 {
		sec = sec[:j]
	}
	named, rest = map[Code]string{}, map[Code]string{}
	for _, line := range strings.Split(sec, "\n") {
		cells := strings.Split(line, "|")
		switch len(cells) {
		case 6: // | code | HTTP | name | action |
			code, err := strconv.Atoi(strings.TrimSpace(cells[1]))
			if err != nil {
				continue // header or separator
			}
			named[Code(code)] = actionWord(t, cells[4])
		case 5: // | codes | meaning | action |
			spec := strings.TrimSpace(cells[1])
			if spec == "codes" || strings.HasPrefix(spec, "-") {
				continue
			}
			for _, part := range strings.Split(spec, ",") {
				lo, hi := codeRange(t, strings.TrimSpace(part))
				for c := lo; c <= hi; c++ {
					if _, dup := rest[c]; dup {
						t.Errorf("the spec lists %d twice", c)
					}
					rest[c] = actionWord(t, cells[3])
				}
			}
		}
	}
	if len(named) < 10 || len(rest) < 3900 {
		t.Fatalf("read %d named codes and %d others from §7", len(named), len(rest))
	}
	return named, rest
}

func actionWord(t *testing.T, cell string) string {
	w := strings.Fields(cell)
	if len(w) == 0 {
		t.Fatalf("empty action cell")
	}
	return w[0]
}

func codeRange(t *testing.T, s string) (Code, Code) {
	if s == "none" {
		return 0, 0
	}
	lo, hi, isRange := strings.Cut(s, "-")
	a, err := strconv.Atoi(lo)
	if err != nil {
		t.Fatalf("code %q in §7", s)
	}
	if !isRange {
		return Code(a), Code(a)
	}
	b, err := strconv.Atoi(hi)
	if err != nil || b < a {
		t.Fatalf("range %q in §7", s)
	}
	return Code(a), Code(b)
}

// TestSpec holds Action to both tables of §7 (the first wins where both cover a code),
// for every code from 0 to 4999, and the constants of this package to the first table.
func TestSpec(t *testing.T) {
	named, rest := specTables(t)
	for c := Code(0); c <= 4999; c++ {
		want, ok := named[c]
		if !ok {
			if want, ok = rest[c]; !ok {
				if c >= 1000 {
					t.Errorf("the spec says nothing of %d", c)
				}
				continue
			}
		}
		if got := c.Action().String(); got != want {
			t.Errorf("%v: Action = %s, the spec says %s", c, got, want)
		}
	}
	for c := range named {
		if _, ok := names[c]; !ok {
			t.Errorf("the spec names %d; this package has no constant for it", c)
		}
	}
	for c := range names {
		if _, ok := named[c]; !ok {
			t.Errorf("%v has a constant but is not in the spec's table", c)
		}
	}
	if got := Code(-1).Action(); got != Reconnect {
		t.Errorf("no code: %s", got)
	}
}

func TestString(t *testing.T) {
	for c, want := range map[Code]string{Expired: "4410 (session expired)", 4000: "4000", 1006: "1006"} {
		if got := c.String(); got != want {
			t.Errorf("%d: %q, want %q", int(c), got, want)
		}
	}
	if got := Action(9).String(); got != "Action(9)" {
		t.Errorf("Action(9): %q", got)
	}
}
