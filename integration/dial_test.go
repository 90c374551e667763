package integration

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/lifelinehq/lifeline/client"
	"github.com/lifelinehq/lifeline/internal/lltest"
	"github.com/lifelinehq/lifeline/server"
)

// TestDialThroughCuts: while a proxy cuts every connection as soon as it is made (the
// WebSocket handshake fails with "failed to send handshake", the HTTP requests with
// EOF), Dial keeps trying within its context and succeeds once a connection can get
// through, on every transport; the session then carries an exchange through a proxy
// cutting connections every 30-300 ms with nothing lost, no stop and no reset. Before,
// Dial gave up after one race.
func TestDialThroughCuts(t *testing.T) {
	for _, tc := range []struct {
		name       string
		transports []string
	}{
		{"race", nil},
		{"websocket", []string{"websocket"}},
		{"stream", []string{"stream"}},
		{"poll", []string{"poll"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := server.New(lltest.Echo, &server.Options{Heartbeat: time.Second, HeartbeatTimeout: time.Second,
				ShutdownDrain: -1})
			px := serveFaulty(t, srv)
			px.SetDown(true)
			px.CutAfter(1, 30*time.Millisecond, 300*time.Millisecond)

			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			type dialed struct {
				c   *client.Conn
				err error
			}
			done := make(chan dialed, 1)
			go func() {
				c, err := client.Dial(ctx, "http://"+px.Addr()+"/ll", &client.Options{
					Transports: tc.transports, HTTPClient: &http.Client{Transport: &http.Transport{}}, // kept alive: cuts land on them
					BackoffMin: 5 * time.Millisecond, BackoffMax: 20 * time.Millisecond,
					ConnectTimeout: 500 * time.Millisecond, WebSocketDeadline: 2 * time.Second,
				})
				done <- dialed{c, err}
			}()
			// Let several whole races fail before the proxy lets connections through.
			var d dialed
			for waiting := true; waiting; {
				select {
				case d = <-done:
					waiting = false
				default:
					if px.Dropped() >= 12 {
						px.SetDown(false)
						d = <-done
						waiting = false
					}
					time.Sleep(time.Millisecond)
				}
			}
			if d.err != nil {
				t.Fatalf("Dial gave up after %d cut connections: %v", px.Dropped(), d.err)
			}
			c := d.c
			defer c.CloseNow()

			const n = 300
			werr := make(chan error, 1)
			go func() {
				for i := 1; i <= n; i++ {
					typ, p := numbered('c', i)
					if err := c.Write(ctx, typ, p); err != nil {
						werr <- err
						return
					}
					if i%5 == 0 {
						time.Sleep(10 * time.Millisecond) // spread the exchange over cuts
					}
				}
				werr <- nil
			}()
			for i := 1; i <= n; i++ {
				typ, p, err := c.Read(ctx)
				if err != nil {
					t.Fatalf("Read %d: %v (stats %+v)", i, err, c.Stats())
				}
				if err := check('c', i, typ, p); err != nil {
					t.Fatal(err)
				}
			}
			if err := <-werr; err != nil {
				t.Fatal(err)
			}
			st := c.Stats()
			t.Logf("cut %d connections; stats %+v", px.Cuts(), st)
			if st.Resets != 0 {
				t.Errorf("%d resets", st.Resets)
			}
			if px.Cuts() == 0 {
				t.Error("no connection was cut during the exchange")
			}
			c.Close(1000, "")
		})
	}
}
