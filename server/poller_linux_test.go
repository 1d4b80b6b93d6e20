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
