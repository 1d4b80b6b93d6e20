//go:build linux && !portable

package server

import (
	"bufio"
	"net"
	"net/http"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// A client that writes without pause (here: empty continuation frames,
// which the server only decodes) must not hold the poller that reads it:
// the other sockets of that poller keep being answered.
func TestPollerFairToOtherSockets(t *testing.T) {
	ts := startServer(t, Options{})

	flooder, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer flooder.Close()
	_, _ = flooder.Write([]byte("GET /app/reverb-key HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"))
	if resp, err := http.ReadResponse(bufio.NewReader(flooder), nil); err != nil || resp.StatusCode != 101 {
		t.Fatalf("handshake: %v", err)
	}
	// Sockets go to the pollers round robin: one of the next
	// GOMAXPROCS sockets shares the flooder's poller.
	var victims []*client
	for range runtime.GOMAXPROCS(0) {
		victims = append(victims, ts.dial(t, "reverb-key"))
	}

	// A message begun, then empty continuation frames (masked, no payload).
	start := []byte{0x01, 0x80 | 1, 0, 0, 0, 0, '{'}
	empty := []byte{0x00, 0x80, 0, 0, 0, 0}
	burst := make([]byte, 0, 64<<10)
	for len(burst)+len(empty) <= cap(burst) {
		burst = append(burst, empty...)
	}
	_, _ = flooder.Write(start)
	var stop atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		for !stop.Load() {
			_ = flooder.SetWriteDeadline(time.Now().Add(time.Second))
			if _, err := flooder.Write(burst); err != nil {
				return
			}
		}
	}()
	defer func() { stop.Store(true); <-done }()

	time.Sleep(200 * time.Millisecond) // the flood is under way
	for round := range 3 {
		for i, v := range victims {
			t0 := time.Now()
			v.send(`{"event":"pusher:ping"}`)
			v.expect(`{"event":"pusher:pong"}`)
			if d := time.Since(t0); d > time.Second {
				t.Fatalf("round %d: socket %d waited %v for its pong while another socket flooded", round, i, d)
			}
		}
	}
}

// A client that sends its last bytes and hangs up at once (both seen in
// one epoll event) is closed then: its end comes with no new edge, so a
// short read must not be taken for "drained" (a half request head would
// wait for the 30 s head timer, a WebSocket for the ping and prune).
func TestPollerNoticesHangUpWithLastBytes(t *testing.T) {
	ts := startServer(t, Options{})
	pending := func() int {
		n := 0
		for _, p := range ts.s.polls.ps {
			p.mu.Lock()
			for _, h := range p.conns {
				if _, ok := h.(*pendingUpgrade); ok {
					n++
				}
			}
			p.mu.Unlock()
		}
		return n
	}
	a := ts.s.table.Load().byKey["reverb-key"]
	open := func() int {
		a.mu.Lock()
		defer a.mu.Unlock()
		return len(a.conns)
	}
	waitZero := func(what string, count func() int) {
		t.Helper()
		deadline := time.Now().Add(2 * time.Second)
		for count() > 0 {
			if time.Now().After(deadline) {
				t.Fatalf("%d %s still open 2 s after their clients hung up", count(), what)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	for range 50 {
		nc, err := net.Dial("tcp", ts.addr)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = nc.Write([]byte("GET /app/reverb-key HTTP/1.1\r\nHost: x\r\nUpg"))
		_ = nc.(*net.TCPConn).SetLinger(0)
		_ = nc.Close()
	}
	waitZero("sockets with half a request head", pending)

	var clients []net.Conn
	for range 50 {
		nc := rawSubscriber(t, ts.addr)
		defer nc.Close()
		clients = append(clients, nc)
	}
	ping := []byte{0x81, 0x80 | 23, 0, 0, 0, 0}
	ping = append(ping, `{"event":"pusher:ping"}`...)
	for _, nc := range clients {
		_, _ = nc.Write(ping)
		_ = nc.(*net.TCPConn).CloseWrite()
	}
	waitZero("WebSockets", open)
}
