package server_test

import (
	"context"
	"io"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/lifelinehq/lifeline/server"
	"github.com/lifelinehq/lifeline/session"
	"github.com/lifelinehq/lifeline/transport"
)

var payload100 = strings.Repeat("m", 100)

// BenchmarkWebSocketEcho: one 100-byte message to the server and back per op, in
// process over loopback. The client reads into a reused buffer and writes its acks
// from one, so allocs/op and B/op are the server's.
func BenchmarkWebSocketEcho(b *testing.B) {
	_, base := startB(b)
	ctx := context.Background()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/ws", nil)
	if err != nil {
		b.Fatal(err)
	}
	defer c.CloseNow()
	c.Write(ctx, websocket.MessageText, transport.AppendResume(nil, &transport.ResumeReq{V: 1}))
	c.Read(ctx)
	c.Write(ctx, websocket.MessageText, []byte("S1"))
	msg := []byte("M" + payload100)
	buf := make([]byte, 0, 4096)
	var ack []byte
	got := uint64(0)
	b.ReportAllocs()
	b.SetBytes(100)
	b.ResetTimer()
	for range b.N {
		if err := c.Write(ctx, websocket.MessageText, msg); err != nil {
			b.Fatal(err)
		}
		for {
			if buf, err = readInto(ctx, c, buf[:0]); err != nil {
				b.Fatal(err)
			}
			if buf[0] == 'M' {
				got++
				if got%32 == 0 {
					ack = transport.AppendNum(ack[:0], transport.FrameAck, got)
					c.Write(ctx, websocket.MessageText, ack)
				}
				break
			}
		}
	}
}

// readInto reads one message into buf, reusing it.
func readInto(ctx context.Context, c *websocket.Conn, buf []byte) ([]byte, error) {
	_, r, err := c.Reader(ctx)
	if err != nil {
		return buf, err
	}
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// BenchmarkBareWebSocketEcho is the baseline: the same exchange with a bare
// coder/websocket echo server (Read, which allocates, then Write), no Lifeline.
func BenchmarkBareWebSocketEcho(b *testing.B) {
	ts := newLocalServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		for {
			typ, p, err := c.Read(context.Background())
			if err != nil || c.Write(context.Background(), typ, p) != nil {
				return
			}
		}
	}))
	defer ts.Close()
	ctx := context.Background()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(ts.URL, "http"), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer c.CloseNow()
	msg := []byte("M" + payload100)
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	b.SetBytes(100)
	b.ResetTimer()
	for range b.N {
		if err := c.Write(ctx, websocket.MessageText, msg); err != nil {
			b.Fatal(err)
		}
		if buf, err = readInto(ctx, c, buf[:0]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPollEcho: per op, one POST carrying a 100-byte message and one poll
// returning its echo.
func BenchmarkPollEcho(b *testing.B) {
	benchHTTPEcho(b, "poll")
}

// BenchmarkStreamEcho: per op, one POST carrying a 100-byte message; the echo comes
// back on a held stream.
func BenchmarkStreamEcho(b *testing.B) {
	benchHTTPEcho(b, "stream")
}

func benchHTTPEcho(b *testing.B, name string) {
	_, base := startB(b)
	cl := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	res, err := cl.Get(base + "/" + name)
	if err != nil {
		b.Fatal(err)
	}
	rd := transport.NewReader(res.Body, 1<<20)
	f, _ := rd.Next()
	h, _ := transport.DecodeHello(f.Data)
	if name == "poll" {
		res.Body.Close()
	} else {
		defer res.Body.Close()
	}
	do := func(method, path, body string, ack int) *http.Response {
		r, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		r.Header.Set(transport.HeaderSession, h.SessionID)
		r.Header.Set(transport.HeaderToken, h.Token)
		r.Header.Set(transport.HeaderAck, strconv.Itoa(ack))
		res, err := cl.Do(r)
		if err != nil {
			b.Fatal(err)
		}
		return res
	}
	b.ReportAllocs()
	b.SetBytes(100)
	b.ResetTimer()
	for i := range b.N {
		sb := transport.AppendEvent(nil, transport.AppendNum(nil, 'S', uint64(i+1)))
		sb = transport.AppendEvent(sb, []byte("M"+payload100))
		if i%32 == 0 {
			sb = transport.AppendEvent(sb, transport.AppendNum(nil, 'A', uint64(i)))
		}
		r := do("POST", "/send", string(sb), 0)
		drain(r)
		if name == "poll" {
			r := do("GET", "/poll", "", i)
			prd := transport.NewReader(r.Body, 1<<20)
			for {
				f, err := prd.Next()
				if err != nil {
					b.Fatalf("poll %d: %v", i, err)
				}
				if f.Type == 'M' {
					break
				}
			}
			drain(r)
			continue
		}
		for {
			f, err := rd.Next()
			if err != nil {
				b.Fatal(err)
			}
			if f.Type == 'M' {
				break
			}
		}
	}
}

func drain(r *http.Response) {
	buf := make([]byte, 512)
	for {
		if _, err := r.Body.Read(buf); err != nil {
			break
		}
	}
	r.Body.Close()
}

// BenchmarkIdleSessions reports heap bytes and goroutines per idle session, 1000
// sessions per transport: WebSocket connections open, long-poll sessions between polls.
func BenchmarkIdleSessions(b *testing.B) {
	for _, name := range []string{"bare-websocket", "websocket", "poll"} {
		b.Run(name, func(b *testing.B) {
			const n = 1000
			for range b.N {
				_, base := startB(b)
				if name == "bare-websocket" {
					ts := newLocalServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
						c, err := websocket.Accept(w, r, nil)
						if err == nil {
							c.Read(context.Background())
							c.CloseNow()
						}
					}))
					defer ts.Close()
					base = ts.URL
				}
				runtime.GC()
				var before runtime.MemStats
				runtime.ReadMemStats(&before)
				g0 := runtime.NumGoroutine()
				var conns []*websocket.Conn
				for range n {
					if name == "poll" {
						r, err := http.Get(base + "/poll")
						if err != nil {
							b.Fatal(err)
						}
						fs := transport.NewReader(r.Body, 1<<20)
						f, _ := fs.Next()
						drain(r)
						h, _ := transport.DecodeHello(f.Data)
						rq, _ := http.NewRequest("POST", base+"/send", strings.NewReader("data:A0\n\n"))
						rq.Header.Set(transport.HeaderSession, h.SessionID)
						rq.Header.Set(transport.HeaderToken, h.Token)
						rs, err := http.DefaultClient.Do(rq)
						if err != nil {
							b.Fatal(err)
						}
						drain(rs)
						continue
					}
					ctx := context.Background()
					c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/ws", nil)
					if err != nil {
						b.Fatal(err)
					}
					conns = append(conns, c)
					if name == "bare-websocket" {
						continue
					}
					c.Write(ctx, websocket.MessageText, transport.AppendResume(nil, &transport.ResumeReq{V: 1}))
					c.Read(ctx)
					c.Write(ctx, websocket.MessageText, []byte("A0"))
				}
				http.DefaultClient.CloseIdleConnections()
				time.Sleep(1500 * time.Millisecond) // past the writer linger
				runtime.GC()
				var after runtime.MemStats
				runtime.ReadMemStats(&after)
				// The clients live in this process too: compare websocket with
				// bare-websocket (the same client side, a bare coder/websocket server).
				b.ReportMetric(float64(after.HeapInuse+after.StackInuse-before.HeapInuse-before.StackInuse)/n, "B/session")
				b.ReportMetric(float64(after.HeapInuse-before.HeapInuse)/n, "heap-B/session")
				b.ReportMetric(float64(after.StackInuse-before.StackInuse)/n, "stack-B/session")
				b.ReportMetric(float64(runtime.NumGoroutine()-g0)/n, "goroutines/session")
				for _, c := range conns {
					c.CloseNow()
				}
			}
		})
	}
}

func startB(b *testing.B) (*server.Server, string) {
	srv := server.New(echo, &server.Options{MaxSessions: 100000, StreamBytes: 1 << 30})
	r := http.NewServeMux()
	r.Handle("/ll/", srv)
	ts := newLocalServer(r)
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		ts.Close()
	})
	return srv, ts.URL + "/ll"
}

// BenchmarkBroadcastFanOut: one 100-byte text broadcast to a group of 100 or 1,000
// WebSocket sessions per op, their clients reading. allocs/op and B/op are the whole
// process's (the writers included): a payload encoded once per broadcast, not once
// per session, keeps B/op from growing tenfold with the sessions.
func BenchmarkBroadcastFanOut(b *testing.B) {
	for _, n := range []int{100, 1000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			var joined sync.WaitGroup
			var srv *server.Server
			srv = server.New(server.HandlerFunc(func(ctx context.Context, s *session.Session) {
				srv.Join("all", s)
				joined.Done()
				<-ctx.Done()
			}), &server.Options{MaxSessions: 100000})
			ts := newLocalServer(srv)
			defer func() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				srv.Shutdown(ctx)
				ts.Close()
			}()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			got := make(chan struct{}, n)
			var readers sync.WaitGroup
			var conns []*websocket.Conn
			for range n {
				joined.Add(1)
				c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(ts.URL, "http")+"/ws", nil)
				if err != nil {
					b.Fatal(err)
				}
				conns = append(conns, c)
				c.Write(ctx, websocket.MessageText, transport.AppendResume(nil, &transport.ResumeReq{V: 1}))
				c.Read(ctx)
				c.Write(ctx, websocket.MessageText, []byte("A0"))
				readers.Add(1)
				go func() { // reads as the Go client does: acks every 32 messages
					defer readers.Done()
					buf := make([]byte, 0, 512)
					var ack []byte
					seen := uint64(0)
					bg := context.Background() // CloseNow ends the read: no AfterFunc per read
					for {
						var err error
						if buf, err = readInto(bg, c, buf[:0]); err != nil {
							return
						}
						if buf[0] == 'M' {
							if seen++; seen%32 == 0 {
								ack = transport.AppendNum(ack[:0], transport.FrameAck, seen)
								c.Write(bg, websocket.MessageText, ack)
							}
							got <- struct{}{}
						}
					}
				}()
			}
			joined.Wait()
			msg := []byte(payload100)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if srv.Broadcast("all", session.Text, msg) != n {
					b.Fatal("not every session reached")
				}
				for range n {
					<-got
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/delivery")
			cancel()
			for _, c := range conns {
				c.CloseNow()
			}
			readers.Wait()
		})
	}
}
