package engine

import (
	"context"
	"errors"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lifelinehq/lifeline/session"
)

// TestOutboundModel drives the replay buffer with random writes, pulls, acks (some
// beyond what the link pulled) and resumes, and checks every pull against a model.
func TestOutboundModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	s := newSession(t, Config{})
	var written []string // written[i] is message i+1
	var acked uint64     // the peer holds everything up to here
	next := uint64(1)    // the link's next number, as far as the model knows
	conn := uint64(0)
	l := attach(t, s, "websocket", conn, 0)
	for step := range 5000 {
		switch op := rng.IntN(10); {
		case op < 4:
			for range 1 + rng.IntN(4) {
				m := strconv.Itoa(len(written)+1) + strings.Repeat("x", rng.IntN(5))
				write(t, s, m)
				written = append(written, m)
			}
		case op < 7:
			k := 1 + rng.IntN(6)
			var b Batch
			l.Pull(&b, k, 1<<20, false)
			from := max(next, acked+1)
			want := written[from-1 : min(int(from)-1+k, len(written))]
			checkMsgs(t, b, from, want...)
			next = from + uint64(len(want))
			if more := int(next) <= len(written); l.More() != more {
				t.Fatalf("step %d: More() = %v, want %v", step, l.More(), more)
			}
		case op < 9 && len(written) > int(acked):
			n := acked + 1 + rng.Uint64N(uint64(len(written))-acked)
			if err := s.Acked(n); err != nil {
				t.Fatalf("step %d: Acked(%d): %v", step, n, err)
			}
			acked = n
		case op == 9:
			peer := acked + rng.Uint64N(uint64(len(written))-acked+1)
			conn++
			l = attach(t, s, "websocket", conn, peer)
			acked, next = peer, peer+1
		}
		if n := uint64(len(written)) + 1; s.Acked(n) == nil {
			t.Fatalf("step %d: Acked(%d) of a message never written accepted", step, n)
		}
	}
}

// TestInboundModel drives the inbound queue with random deliveries (duplicates,
// gaps, a full queue) and reads, and checks each result against a model.
func TestInboundModel(t *testing.T) {
	const maxQueued = 24
	rng := rand.New(rand.NewPCG(3, 4))
	s := newSession(t, Config{MaxQueued: maxQueued})
	var queue []string // received, not read
	var bytes int
	var seq uint64
	for step := range 5000 {
		if rng.IntN(2) == 0 {
			lo := seq - min(seq, 3)
			n := lo + rng.Uint64N(seq+4-lo) // seq-3 .. seq+3: duplicates, the next, gaps
			if rng.IntN(2) == 0 {
				n = seq + 1
			}
			data := strconv.FormatUint(n, 10) + strings.Repeat("y", rng.IntN(8))
			ok, err := s.Deliver(context.Background(), n, msg(data), false)
			var wantOK bool
			var wantErr error
			switch {
			case n <= seq:
			case n > seq+1:
				wantErr = ErrProtocol
			case len(queue) > 0 && bytes+len(data) > maxQueued:
				wantErr = session.ErrQueueFull
			default:
				wantOK = true
				queue = append(queue, data)
				bytes += len(data)
				seq = n
			}
			if ok != wantOK || err != wantErr {
				t.Fatalf("step %d: Deliver(%d) = %v, %v; want %v, %v", step, n, ok, err, wantOK, wantErr)
			}
			continue
		}
		if len(queue) == 0 {
			continue
		}
		got, err := read(t, s)
		if err != nil || got != queue[0] {
			t.Fatalf("step %d: Read = %q, %v; want %q", step, got, err, queue[0])
		}
		bytes -= len(queue[0])
		queue = queue[1:]
		if s.Received() != seq {
			t.Fatalf("step %d: Received() = %d, want %d", step, s.Received(), seq)
		}
	}
}

// TestConcurrentReaders: several readers share one session; every message is read
// exactly once, and when the session ends every reader returns.
func TestConcurrentReaders(t *testing.T) {
	const readers, n = 4, 2000
	s := newSession(t, Config{MaxQueued: 64})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	seen := make([]int, n)
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make(chan error, readers+1)
	for range readers {
		wg.Go(func() {
			for {
				_, p, err := s.Read(ctx)
				if err != nil {
					var ce *session.CloseError
					if !errors.As(err, &ce) || !ce.Remote {
						errs <- err
					}
					return
				}
				i, _ := strconv.Atoi(string(p))
				mu.Lock()
				seen[i]++
				mu.Unlock()
			}
		})
	}
	for i := range n {
		if _, err := s.Deliver(ctx, uint64(i+1), msg(strconv.Itoa(i)), true); err != nil {
			t.Fatalf("Deliver %d: %v", i+1, err)
		}
	}
	s.PeerClosed(1000, "")
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("a reader ended with %v, want the peer's close", err)
	}
	checkOnce(t, seen, "read")
}

// TestWaitingReadersEachGetOne: messages that arrive together while several readers
// wait are shared out; a reader that takes one and goes away must not leave the rest
// waiting for the next delivery.
func TestWaitingReadersEachGetOne(t *testing.T) {
	const readers = 3
	s := newSession(t, Config{})
	got := make(chan string, readers)
	var wg sync.WaitGroup
	for range readers {
		wg.Go(func() {
			p, err := read(t, s)
			if err != nil {
				t.Errorf("Read: %v", err)
			}
			got <- p
		})
	}
	time.Sleep(20 * time.Millisecond) // let them wait
	deliver(t, s, 1, "a", "b", "c")
	wg.Wait()
	close(got)
	seen := map[string]bool{}
	for p := range got {
		seen[p] = true
	}
	if len(seen) != readers {
		t.Errorf("readers got %v, want a, b and c", seen)
	}
}

// TestConcurrentWriters: writers blocked on a full queue all get through as the
// peer acknowledges, and every message is sent once.
func TestConcurrentWriters(t *testing.T) {
	const writers, each = 4, 500
	s := newSession(t, Config{MaxQueued: 16})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				if err := s.Write(ctx, session.Text, []byte(strconv.Itoa(w*each+i))); err != nil {
					t.Errorf("writer %d: %v", w, err)
					return
				}
			}
		})
	}
	l := attach(t, s, "websocket", 0, 0)
	seen := make([]int, writers*each)
	next := uint64(1)
	var b Batch
	for got := 0; got < writers*each; {
		l.Pull(&b, 8, 1<<20, false)
		if len(b.Msgs) == 0 {
			select {
			case <-l.Wake():
			case <-ctx.Done():
				t.Fatalf("stuck after %d messages", got)
			}
			continue
		}
		if b.Seq != next {
			t.Fatalf("pulled from %d, want %d", b.Seq, next)
		}
		for _, m := range b.Msgs {
			i, _ := strconv.Atoi(string(m.Data))
			seen[i]++
		}
		got += len(b.Msgs)
		next += uint64(len(b.Msgs))
		if err := s.Acked(next - 1); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	checkOnce(t, seen, "sent")
}

// checkOnce fails unless every message was handled exactly once.
func checkOnce(t *testing.T, seen []int, verb string) {
	t.Helper()
	for i, c := range seen {
		if c != 1 {
			t.Fatalf("message %d %s %d times, want once", i, verb, c)
		}
	}
}
