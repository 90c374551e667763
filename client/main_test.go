package client

import (
	"fmt"
	"net/http"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestMain fails the run when goroutines outlive the tests.
func TestMain(m *testing.M) {
	before := runtime.NumGoroutine()
	code := m.Run()
	if code == 0 {
		code = checkLeaks(before)
	}
	os.Exit(code)
}

func checkLeaks(before int) int {
	deadline := time.Now().Add(5 * time.Second)
	for {
		http.DefaultTransport.(*http.Transport).CloseIdleConnections()
		if runtime.NumGoroutine() <= before {
			return 0
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			n := runtime.Stack(buf, true)
			fmt.Fprintf(os.Stderr, "leaked goroutines: %d > %d\n%s\n", runtime.NumGoroutine(), before,
				strings.TrimSpace(string(buf[:n])))
			return 1
		}
		time.Sleep(20 * time.Millisecond)
	}
}
