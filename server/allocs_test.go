//go:build !race

// The race detector drops a share of sync.Pool puts on purpose: allocation counts
// are only meaningful without it.

package server_test

import "testing"

// TestWebSocketEchoAllocs: an echo on the server's WebSocket hot path allocates only
// the two payload copies its contract asks for: the message Read hands the handler
// (the reader's buffer is pooled, the payload is copied out of it once) and the copy
// Write keeps of the caller's p. Acks, S frames and the writer allocate nothing. It
// counts allocations (the benchmark's client allocates none), never time.
func TestWebSocketEchoAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a benchmark")
	}
	r := testing.Benchmark(BenchmarkWebSocketEcho)
	if r.N == 0 {
		t.Fatal("the benchmark failed")
	}
	if a := r.AllocsPerOp(); a > 2 {
		t.Errorf("%d allocations per echo, want at most 2 (the two payload copies); %d B/op", a, r.AllocedBytesPerOp())
	}
}
