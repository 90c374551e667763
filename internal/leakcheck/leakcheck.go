// Package leakcheck fails a test binary whose goroutines outlive its tests. Every
// package's TestMain calls Main.
package leakcheck

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"testing"
	"time"
)

// Main runs the tests, then the after functions (given the exit code so far: they
// stop what several tests shared, and may fail the run), then waits up to 5 s for
// the goroutines the tests started to end (closing http.DefaultTransport's idle
// connections meanwhile), and exits 1 with their stacks if some do not.
func Main(m *testing.M, after ...func(code int) int) {
	before, _ := goroutines()
	code := m.Run()
	for _, f := range after {
		code = f(code)
	}
	if code == 0 {
		deadline := time.Now().Add(5 * time.Second)
		n, stacks := goroutines()
		for ; n > before && time.Now().Before(deadline); n, stacks = goroutines() {
			http.DefaultTransport.(*http.Transport).CloseIdleConnections()
			time.Sleep(20 * time.Millisecond)
		}
		if n > before {
			fmt.Fprintf(os.Stderr, "leaked goroutines: %d running, %d before the tests\n%s\n", n, before, stacks)
			code = 1
		}
	}
	os.Exit(code)
}

// goroutines counts the running goroutines and returns their stacks, leaving out the
// signal loop that the fuzzing engine starts and never stops.
func goroutines() (int, []byte) {
	buf := make([]byte, 1<<20)
	for {
		if n := runtime.Stack(buf, true); n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var kept [][]byte
	for _, g := range bytes.Split(buf, []byte("\n\n")) {
		if !bytes.Contains(g, []byte("os/signal.signal_recv")) {
			kept = append(kept, g)
		}
	}
	return len(kept), bytes.Join(kept, []byte("\n\n"))
}
