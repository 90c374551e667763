package client

import (
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/lifelinehq/lifeline/session"
)

// TestOffline: with the server unreachable (every connection refused) for
// OfflineAfter, a blocked Read returns an *OfflineError with the messages still
// unsent, and Write returns one at once, queuing nothing; once the server can be
// reached again, the session resumes and the messages queued before the spell are
// delivered (their fate), with nothing lost or repeated. Before, Read and Write never
// said anything while the client retried forever.
func TestOffline(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr, func(t *testing.T) {
			p := newProxy(t, hostOf(startServer(t, echo, fastServer())))
			o := fastClient(tr)
			o.OfflineAfter = 300 * time.Millisecond
			c := dial(t, p.url(), o)
			ctx := testCtx(t)
			exchange(t, c, 0, 3)
			p.setRefuse(true)
			p.cut()
			// Queued while the connection is down: not acknowledged yet.
			for i := range 2 {
				if err := c.Write(ctx, session.Text, []byte("queued "+strconv.Itoa(i))); err != nil {
					t.Fatalf("Write before the spell: %v", err)
				}
			}
			_, p1, err := c.Read(ctx)
			var oe *OfflineError
			if !errors.As(err, &oe) || !errors.Is(err, ErrOffline) {
				t.Fatalf("Read while unreachable: %q, %v", p1, err)
			}
			if oe.Unsent < 2 || oe.For != o.OfflineAfter {
				t.Errorf("OfflineError %+v: want at least 2 unsent, for %v", oe, o.OfflineAfter)
			}
			if err := c.Write(ctx, session.Text, []byte("refused")); !errors.Is(err, ErrOffline) {
				t.Fatalf("Write while offline: %v", err)
			}
			p.setRefuse(false)
			// Back online once a Write is taken again.
			for {
				err := c.Write(ctx, session.Text, []byte("after"))
				if err == nil {
					break
				}
				if !errors.Is(err, ErrOffline) {
					t.Fatalf("Write: %v", err)
				}
				time.Sleep(5 * time.Millisecond)
			}
			for _, want := range []string{"queued 0", "queued 1", "after"} {
				_, p, err := c.Read(ctx)
				if err != nil || string(p) != want {
					t.Fatalf("Read after the spell: %q, %v; want %q", p, err, want)
				}
			}
			if st := c.Stats(); st.Resets != 0 {
				t.Errorf("%d resets", st.Resets)
			}
		})
	}
}

// TestOfflineWakesWrite: a Write waiting for room in a full queue when the client goes
// offline returns the *OfflineError.
func TestOfflineWakesWrite(t *testing.T) {
	p := newProxy(t, hostOf(startServer(t, echo, fastServer())))
	o := fastClient("websocket")
	o.OfflineAfter = 300 * time.Millisecond
	o.MaxQueuedBytes = 4096
	c := dial(t, p.url(), o)
	p.setRefuse(true)
	p.cut()
	ctx := testCtx(t)
	var err error
	for err == nil {
		err = c.Write(ctx, session.Binary, make([]byte, 1000))
	}
	if !errors.Is(err, ErrOffline) {
		t.Fatalf("Write into a full queue while unreachable: %v", err)
	}
}
