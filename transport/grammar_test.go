package transport

import (
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestSpecGrammar holds the ABNF of docs/protocol.md §10 to the codec: the type bytes
// of the rules that `frame` names are exactly the ones ParseFrame knows.
func TestSpecGrammar(t *testing.T) {
	abnf := firstCodeBlock(t, specSection(t, "### Frames"))
	rules := map[string]string{}
	for _, line := range strings.Split(abnf, "\n") {
		name, def, ok := strings.Cut(line, "=")
		if ok && !strings.HasPrefix(line, " ") {
			def, _, _ = strings.Cut(def, ";")
			rules[strings.TrimSpace(name)] = strings.TrimSpace(def)
		}
	}
	frame, ok := rules["frame"]
	if !ok {
		t.Fatal("the grammar has no frame rule")
	}
	typeByte := regexp.MustCompile(`^%x([0-9A-F]{2})\b`)
	inSpec := map[byte]bool{}
	for _, alt := range strings.Split(frame, "/") {
		def := rules[strings.TrimSpace(alt)]
		m := typeByte.FindStringSubmatch(def)
		if m == nil {
			t.Errorf("frame alternative %q: %q does not start with its type byte", alt, def)
			continue
		}
		b, _ := strconv.ParseUint(m[1], 16, 8)
		inSpec[byte(b)] = true
	}
	for b := 0; b < 256; b++ {
		_, err := ParseFrame([]byte{byte(b)})
		known := err == nil || !strings.Contains(err.Error(), "unknown frame type")
		if known != inSpec[byte(b)] {
			t.Errorf("type byte %q: the codec knows it: %v, the grammar has it: %v", byte(b), known, inSpec[byte(b)])
		}
	}
}

// TestSpecResumeFields holds the R frame's field table of docs/protocol.md §10 to
// ResumeReq: the same JSON names.
func TestSpecResumeFields(t *testing.T) {
	var named []string
	for _, row := range specSection(t, "### The `R` frame's fields") {
		cells := strings.Split(row, "|")
		if len(cells) > 2 && strings.HasPrefix(strings.TrimSpace(cells[1]), "`") {
			named = append(named, strings.Trim(strings.TrimSpace(cells[1]), "`"))
		}
	}
	var fields []string
	typ := reflect.TypeFor[ResumeReq]()
	for i := range typ.NumField() {
		name, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
		fields = append(fields, name)
	}
	slices.Sort(named)
	slices.Sort(fields)
	if !slices.Equal(named, fields) {
		t.Errorf("the spec's R table names %q; ResumeReq has %q", named, fields)
	}
}
