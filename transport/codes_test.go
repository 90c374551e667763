package transport

import (
	"go/ast"
	"go/parser"
	"go/token"
	"strconv"
	"strings"
	"testing"
)

// sourceCodes reads the Code* constants of codes.go, name to value, so that a code
// added there without a test here fails.
func sourceCodes(t *testing.T) map[string]int {
	t.Helper()
	file, err := parser.ParseFile(token.NewFileSet(), "codes.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	codes := map[string]int{}
	ast.Inspect(file, func(n ast.Node) bool {
		vs, ok := n.(*ast.ValueSpec)
		if !ok {
			return true
		}
		for i, name := range vs.Names {
			if !strings.HasPrefix(name.Name, "Code") || i >= len(vs.Values) {
				continue
			}
			lit, ok := vs.Values[i].(*ast.BasicLit)
			if !ok || lit.Kind != token.INT {
				t.Fatalf("codes.go: %s is not an integer literal", name.Name)
			}
			v, err := strconv.Atoi(lit.Value)
			if err != nil {
				t.Fatal(err)
			}
			codes[name.Name] = v
		}
		return true
	})
	if len(codes) == 0 {
		t.Fatal("codes.go: no Code constants found")
	}
	return codes
}

var actionNames = map[Action]string{Reconnect: "Reconnect", Reset: "Reset", Stop: "Stop", Ignore: "Ignore"}

func TestCodes(t *testing.T) {
	tests := map[string]struct {
		code, status int
		action       Action
	}{
		"CodeNormal":      {CodeNormal, 0, Stop},
		"CodeProtocol":    {CodeProtocol, 400, Stop},
		"CodeAuth":        {CodeAuth, 401, Stop},
		"CodeOrigin":      {CodeOrigin, 403, Stop},
		"CodeUnknown":     {CodeUnknown, 404, Reset},
		"CodeTimeout":     {CodeTimeout, 0, Reconnect},
		"CodeSuperseded":  {CodeSuperseded, 409, Ignore},
		"CodeExpired":     {CodeExpired, 410, Reset},
		"CodeTooLarge":    {CodeTooLarge, 413, Stop},
		"CodeTooMany":     {CodeTooMany, 429, Reset},
		"CodeAuthExpired": {CodeAuthExpired, 401, Reset}, // the C frame in the body tells it from 4401
		"CodeShutdown":    {CodeShutdown, 503, Reset},
		"CodeOverflow":    {CodeOverflow, 0, Reset},
	}
	src := sourceCodes(t)
	for name, v := range src {
		if _, ok := tests[name]; !ok {
			t.Errorf("codes.go declares %s = %d, which this test does not cover", name, v)
		}
	}
	for name, tc := range tests {
		if v, ok := src[name]; !ok || v != tc.code {
			t.Errorf("%s: codes.go has %d (declared %v), test has %d", name, v, ok, tc.code)
		}
		if got := HTTPStatus(tc.code); got != tc.status {
			t.Errorf("HTTPStatus(%s=%d) = %d, want %d", name, tc.code, got, tc.status)
		}
		if got := ActionFor(tc.code); got != tc.action {
			t.Errorf("ActionFor(%s=%d) = %s, want %s", name, tc.code, actionNames[got], actionNames[tc.action])
		}
	}
}

func TestCodesNotInTable(t *testing.T) {
	tests := []struct {
		code   int
		action Action
	}{
		{0, Reconnect},
		{999, Reconnect},
		{1001, Stop},
		{1006, Stop},
		{1009, Stop}, // WebSocket "message too big", read as 4413
		{1011, Stop},
		{3000, Stop},
		{3999, Stop},
		{4000, Reconnect},
		{4001, Reconnect},
		{4411, Reconnect},
		{4999, Reconnect},
		{5000, Reconnect},
		{-1, Reconnect},
	}
	for _, tc := range tests {
		if got := ActionFor(tc.code); got != tc.action {
			t.Errorf("ActionFor(%d) = %s, want %s", tc.code, actionNames[got], actionNames[tc.action])
		}
		if got := HTTPStatus(tc.code); got != 0 {
			t.Errorf("HTTPStatus(%d) = %d, want 0", tc.code, got)
		}
	}
}
