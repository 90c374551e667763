package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadmeQuickStart compiles the README's quick start as written: a complete
// program, inside this module so that it builds against this tree.
func TestReadmeQuickStart(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(readme)
	i := strings.Index(s, "```go\npackage main\n")
	if i < 0 {
		t.Fatal("README.md has no Go quick start that starts with package main")
	}
	s = s[i+len("```go\n"):]
	src := s[:strings.Index(s, "```")]
	dir, err := os.MkdirTemp("..", ".readme-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	vet := exec.Command("go", "vet", "./"+filepath.Base(dir))
	vet.Dir = ".."
	out, err := vet.CombinedOutput()
	if err != nil {
		t.Fatalf("the quick start does not compile: %v\n%s", err, out)
	}
	cmd := exec.Command("gofmt", "-l", dir)
	if out, err := cmd.CombinedOutput(); err != nil || len(out) > 0 {
		t.Errorf("the quick start is not gofmt'ed: %s %v", out, err)
	}
}
