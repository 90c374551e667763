// Package faultproxy is a TCP proxy for tests that sits between a client and a
// Lifeline server and misbehaves on demand, the way hostile networks do: it refuses
// or hangs WebSocket handshakes, buffers streaming responses, and cuts connections,
// all at once or after a random (seeded) lifetime.
//
// It reads the head of the first HTTP request on each connection to tell WebSocket
// handshakes and streams apart, so clients should not reuse connections (HTTP
// keep-alive off) when a policy other than Pass is in force.
package faultproxy

import (
	"bufio"
	"bytes"
	"io"
	"math/rand"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Policy says what the proxy does with one kind of request.
type Policy int32

const (
	Pass   Policy = iota // forward it
	Refuse               // answer 403 at once (a proxy that does not forward Upgrade)
	Hang                 // accept it and never answer (a handshake that goes nowhere)
	Buffer               // forward it, but hold the response until it ends (a buffering proxy)
	Silent               // forward the handshake and its answer, then carry nothing either way
)

// Proxy forwards 127.0.0.1 connections to a target address. Safe for concurrent use.
type Proxy struct {
	ln     net.Listener
	target string

	ws, stream atomic.Int32 // Policy for WebSocket handshakes and stream requests
	down       atomic.Bool  // close every new connection at once
	dropped    atomic.Int64 // connections closed at once while down

	mu    sync.Mutex
	conns map[*pair]struct{}
	rng   *rand.Rand
	life  [2]time.Duration // random lifetime bounds; zero: no timed cuts
	cuts  atomic.Int64
	wg    sync.WaitGroup
	done  chan struct{}
	Logf  func(format string, args ...any) // optional: where cuts are logged
}

// pair is a client connection and, once dialled, its upstream connection.
type pair struct {
	a net.Conn
	b atomic.Pointer[net.TCPConn]
}

func (p *pair) close() {
	p.a.Close()
	if b := p.b.Load(); b != nil {
		b.Close()
	}
}

// New starts a proxy to target ("host:port") on a free loopback port.
func New(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{ln: ln, target: target, conns: make(map[*pair]struct{}), done: make(chan struct{})}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr returns the proxy's "127.0.0.1:port".
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// SetWebSocket sets the policy for WebSocket handshakes.
func (p *Proxy) SetWebSocket(pol Policy) { p.ws.Store(int32(pol)) }

// SetStream sets the policy for requests whose path ends in "/stream".
func (p *Proxy) SetStream(pol Policy) { p.stream.Store(int32(pol)) }

// SetDown makes the proxy close every connection it accepts from now on at once, as
// when the network is down (false: forward again). Open connections stay: see CutAll.
func (p *Proxy) SetDown(down bool) { p.down.Store(down) }

// CutAfter makes every connection accepted from now on close after a random lifetime
// between min and max, drawn from a generator seeded with seed.
func (p *Proxy) CutAfter(seed int64, min, max time.Duration) {
	p.mu.Lock()
	p.rng, p.life = rand.New(rand.NewSource(seed)), [2]time.Duration{min, max}
	p.mu.Unlock()
}

// CutAll closes every open connection now and returns how many it closed.
func (p *Proxy) CutAll() int {
	p.mu.Lock()
	all := make([]*pair, 0, len(p.conns))
	for c := range p.conns {
		all = append(all, c)
	}
	p.mu.Unlock()
	for _, c := range all {
		c.close()
	}
	p.cuts.Add(int64(len(all)))
	return len(all)
}

// Open returns how many connections are open through the proxy.
func (p *Proxy) Open() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns)
}

// Dropped returns how many connections the proxy closed at once while down.
func (p *Proxy) Dropped() int64 { return p.dropped.Load() }

// Cuts returns how many connections the proxy has cut.
func (p *Proxy) Cuts() int64 { return p.cuts.Load() }

// Close stops the proxy and closes every connection; it returns when all its
// goroutines have ended.
func (p *Proxy) Close() {
	close(p.done)
	p.ln.Close()
	p.mu.Lock()
	for c := range p.conns {
		c.close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if p.down.Load() {
			c.Close()
			p.dropped.Add(1)
			continue
		}
		pr := &pair{a: c}
		p.mu.Lock()
		p.conns[pr] = struct{}{}
		var life time.Duration
		if p.rng != nil {
			life = p.life[0] + time.Duration(p.rng.Int63n(int64(p.life[1]-p.life[0])+1))
		}
		p.mu.Unlock()
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.serve(pr, life)
			p.mu.Lock()
			delete(p.conns, pr)
			p.mu.Unlock()
			pr.close()
		}()
	}
}

func (p *Proxy) serve(pr *pair, life time.Duration) {
	if life > 0 {
		t := time.AfterFunc(life, func() {
			p.mu.Lock()
			_, open := p.conns[pr]
			p.mu.Unlock()
			if open {
				p.cuts.Add(1)
				if p.Logf != nil {
					p.Logf("faultproxy: cut a connection after %v", life)
				}
				pr.close()
			}
		})
		defer t.Stop()
	}
	br := bufio.NewReader(pr.a)
	head, err := readHead(br)
	if err != nil {
		return
	}
	isWS := bytes.Contains(bytes.ToLower(head), []byte("upgrade: websocket"))
	line, _, _ := bytes.Cut(head, []byte("\r\n"))
	isStream := strings.Contains(strings.SplitN(string(line)+"  ", " ", 3)[1], "/stream")
	pol := Pass
	switch {
	case isWS:
		pol = Policy(p.ws.Load())
	case isStream:
		pol = Policy(p.stream.Load())
	}
	switch pol {
	case Refuse:
		io.WriteString(pr.a, "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
		return
	case Hang:
		io.Copy(io.Discard, br)
		return
	}
	c, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	up := c.(*net.TCPConn)
	pr.b.Store(up)
	p.mu.Lock()
	_, open := p.conns[pr]
	p.mu.Unlock()
	if !open {
		up.Close()
		return
	}
	if _, err := up.Write(head); err != nil {
		return
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if pol == Silent {
			io.Copy(io.Discard, br) // nothing from the client reaches the server either
		} else {
			io.Copy(up, br)
		}
		up.CloseWrite()
	}()
	if pol == Silent {
		resp := bufio.NewReader(up)
		head, err := readHead(resp)
		if err != nil {
			return
		}
		pr.a.Write(head)
		io.Copy(io.Discard, resp)
	} else if pol == Buffer {
		var held bytes.Buffer
		io.Copy(&held, up)
		pr.a.Write(held.Bytes())
	} else {
		io.Copy(pr.a, up)
	}
	pr.a.(*net.TCPConn).CloseWrite()
	wg.Wait()
}

// readHead reads an HTTP request head, through the empty line.
func readHead(br *bufio.Reader) ([]byte, error) {
	var head []byte
	for len(head) < 64<<10 {
		line, err := br.ReadSlice('\n')
		head = append(head, line...)
		if err != nil {
			return nil, err
		}
		if len(line) <= 2 {
			return head, nil
		}
	}
	return nil, io.ErrShortBuffer
}
