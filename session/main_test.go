package session

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"
)

// TestMain fails the run when goroutines started by the tests outlive them.
func TestMain(m *testing.M) {
	before, _ := goroutines()
	code := m.Run()
	deadline := time.Now().Add(2 * time.Second)
	n, stacks := goroutines()
	for ; n > before && time.Now().Before(deadline); n, stacks = goroutines() {
		time.Sleep(10 * time.Millisecond)
	}
	if n > before {
		fmt.Fprintf(os.Stderr, "leaked goroutines: %d running, %d before the tests\n%s\n", n, before, stacks)
		code = 1
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
