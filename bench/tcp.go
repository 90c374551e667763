package main

import (
	"context"
	"io"
	"log"
	"net"
	"strings"
)

// The tcp target, the floor under every other: a raw TCP echo server (a goroutine per
// connection copying what it reads back) and a client writing 100-byte messages and
// reading as many bytes back. It has no broadcast.

func serveTCP(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			log.Fatal(err)
		}
		go func() {
			defer c.Close()
			buf := make([]byte, 4096)
			for {
				n, err := c.Read(buf)
				if err != nil {
					return
				}
				if _, err := c.Write(buf[:n]); err != nil {
					return
				}
			}
		}()
	}
}

type tcpClient struct {
	c        net.Conn
	msg, buf []byte
}

func openTCP(base string) *tcpClient {
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		log.Fatal(err)
	}
	return &tcpClient{c: c, msg: []byte(payload)}
}

func (t *tcpClient) echo(n int) {
	if len(t.buf) < n*len(t.msg) {
		t.buf = make([]byte, n*len(t.msg))
	}
	for range n {
		if _, err := t.c.Write(t.msg); err != nil {
			log.Fatal(err)
		}
	}
	if _, err := io.ReadFull(t.c, t.buf[:n*len(t.msg)]); err != nil {
		log.Fatal(err)
	}
}

// listen holds the connection idle until ctx ends.
func (t *tcpClient) listen(ctx context.Context, on func([]byte)) {
	<-ctx.Done()
	t.c.Close()
}
