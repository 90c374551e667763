package client

import (
	"net"
	"sync"
	"sync/atomic"
	"testing"
)

// proxy is a TCP proxy on 127.0.0.1 in front of a test server, able to drop, black-hole
// or refuse connections and to switch to another backend (a server restart).
type proxy struct {
	ln net.Listener
	wg sync.WaitGroup

	mu      sync.Mutex
	backend string
	refuse  bool
	pairs   map[*pair]struct{}
}

// pair is one proxied connection.
type pair struct {
	client, server net.Conn
	hole           atomic.Bool // swallow everything both ways
}

func newProxy(t *testing.T, backend string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, backend: backend, pairs: map[*pair]struct{}{}}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(func() {
		ln.Close()
		p.cut()
		p.wg.Wait()
	})
	return p
}

// url is the proxy's address as an http URL.
func (p *proxy) url() string { return "http://" + p.ln.Addr().String() }

func (p *proxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		refuse, backend := p.refuse, p.backend
		p.mu.Unlock()
		if refuse {
			c.Close()
			continue
		}
		s, err := net.Dial("tcp", backend)
		if err != nil {
			c.Close()
			continue
		}
		pr := &pair{client: c, server: s}
		p.mu.Lock()
		if p.refuse { // refused while dialling: a cut meanwhile did not see this pair
			p.mu.Unlock()
			c.Close()
			s.Close()
			continue
		}
		p.pairs[pr] = struct{}{}
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(pr, s, c)
		go p.pipe(pr, c, s)
	}
}

func (p *proxy) pipe(pr *pair, dst, src net.Conn) {
	defer p.wg.Done()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !pr.hole.Load() {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				err = werr
			}
		}
		if err != nil {
			pr.client.Close()
			pr.server.Close()
			p.mu.Lock()
			delete(p.pairs, pr)
			p.mu.Unlock()
			return
		}
	}
}

// cut drops every current connection.
func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for pr := range p.pairs {
		pr.client.Close()
		pr.server.Close()
		delete(p.pairs, pr)
	}
}

// blackhole makes every current connection swallow what it carries, both ways, while
// new connections work.
func (p *proxy) blackhole() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for pr := range p.pairs {
		pr.hole.Store(true)
	}
}

// setRefuse makes new connections close at once (or work again).
func (p *proxy) setRefuse(on bool) {
	p.mu.Lock()
	p.refuse = on
	p.mu.Unlock()
}

// setBackend sends new connections to another server.
func (p *proxy) setBackend(addr string) {
	p.mu.Lock()
	p.backend = addr
	p.mu.Unlock()
}
