//go:build linux

package main

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reverb-go/reverb/server"
)

// handoverListener passes the connections one listener accepts to whichever
// server currently takes them, as the supervisor's shared socket does for
// the generations of a restart.
type handoverListener struct {
	ch   chan net.Conn
	done chan struct{}
	addr net.Addr
}

func (l *handoverListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}
func (l *handoverListener) Close() error   { return nil }
func (l *handoverListener) Addr() net.Addr { return l.addr }

// A drained server's clients reconnect through the redialer to the server
// taking over, resubscribe, and are read by the epoll readers again; the
// process keeps only the sockets that are open.
func TestRedialerReconnectsDrainedSockets(t *testing.T) {
	newServer := func() (*server.Server, *handoverListener) {
		srv := testBenchServer(t)
		l := &handoverListener{ch: make(chan net.Conn), done: make(chan struct{})}
		t.Cleanup(func() { close(l.done) })
		go func() { _ = srv.Serve(l) }()
		return srv, l
	}
	old, oldLn := newServer()
	next, nextLn := newServer()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var target atomic.Pointer[handoverListener]
	target.Store(oldLn)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			target.Load().ch <- c
		}
	}()

	st := testClient(t, ln.Addr().String(), benchAppKey, true)
	const n = 100
	if r := st.connectMany(clientCmd{N: n, Channel: "restart", Concurrency: 8, Reconnect: true}); r.OK != n {
		t.Fatalf("connect: %+v", r)
	}

	target.Store(nextLn)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := old.Drain(ctx, 200*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		st.mu.Lock()
		kept := len(st.conns)
		st.mu.Unlock()
		served := next.Stats().Apps[0].Connections
		if st.reconnects.Load() == n && st.open.Load() == n && kept == n && served == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the drain: %d reconnects, %d open, %d kept, %d served by the new server (want %d)",
				st.reconnects.Load(), st.open.Load(), kept, served, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if r := st.refused.Load(); r != 0 {
		t.Fatalf("%d refused", r)
	}
}

// A reconnect refused while nothing listens is tried again every 50 ms, and
// succeeds once a server is back on the address.
func TestRedialerRetriesRefusedDials(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	st := testClient(t, addr, benchAppKey, true)
	st.redials.reconnect("restart", &st.latency[0])
	waitFor(t, "three refused dials", func() bool { return st.refused.Load() >= 3 })

	srv := testBenchServer(t)
	back, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("the port was taken meanwhile: %v", err)
	}
	go func() { _ = srv.Serve(back) }()
	waitFor(t, "the reconnect", func() bool {
		return st.reconnects.Load() == 1 && st.open.Load() == 1 && srv.Stats().Apps[0].Connections == 1
	})
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within 10 s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
