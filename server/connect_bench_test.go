package server

import (
	"bytes"
	"net"
	"runtime"
	"testing"
	"time"
)

// BenchmarkConnect is one WebSocket's life as a connect storm sees it:
// dial, upgrade, connection_established, subscribe, subscription_succeeded,
// close, over real loopback sockets with eight clients at a time. The
// clients are raw sockets in this process (one write and one read per
// step), so most of the CPU per connect it reports (user + system time of
// the process) is the server's accept, handshake and subscribe.
func BenchmarkConnect(b *testing.B) {
	ts := startServer(b, Options{})
	upgrade := benchUpgrade(ts.addr)
	msg := `{"event":"pusher:subscribe","data":{"channel":"storm"}}`
	subscribe := append([]byte{0x81, 0x80 | byte(len(msg)), 0, 0, 0, 0}, msg...)
	b.SetParallelism(4) // 4 × GOMAXPROCS clients at a time
	b.ReportAllocs()
	cpu0 := processCPU()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		buf := make([]byte, 1024)
		for pb.Next() {
			nc, err := net.Dial("tcp", ts.addr)
			if err != nil {
				b.Error(err)
				return
			}
			_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
			if err := readUntil(nc, upgrade, buf, "connection_established"); err != nil {
				b.Error(err)
				nc.Close()
				return
			}
			if err := readUntil(nc, subscribe, buf, "subscription_succeeded"); err != nil {
				b.Error(err)
				nc.Close()
				return
			}
			nc.Close()
		}
	})
	b.StopTimer()
	b.ReportMetric(float64((processCPU()-cpu0).Nanoseconds())/float64(b.N)/1e3, "µs-CPU/connect")
}

// benchUpgrade is pusher-js's upgrade request to the test app at addr.
func benchUpgrade(addr string) []byte {
	return []byte("GET /app/reverb-key?protocol=7&client=js&version=8.4.0&flash=false HTTP/1.1\r\nHost: " + addr +
		"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
}

// readUntil writes out and reads until want has arrived.
func readUntil(nc net.Conn, out, buf []byte, want string) error {
	if _, err := nc.Write(out); err != nil {
		return err
	}
	got := buf[:0]
	for !bytes.Contains(got, []byte(want)) {
		if len(got) == cap(got) {
			got = got[:copy(got, got[len(got)-len(want):])] // keep a tail as long as want
		}
		n, err := nc.Read(got[len(got):cap(got)])
		if err != nil {
			return err
		}
		got = got[:len(got)+n]
	}
	return nil
}

// BenchmarkInboundMessage is what a message from a client costs: connected
// sockets (4 × GOMAXPROCS) each send pusher:ping and read the pong, over
// real loopback sockets, so the poller's read of the socket and its epoll
// registration are in the figure. The clients are raw sockets in this
// process; the CPU per message it reports is the process's.
func BenchmarkInboundMessage(b *testing.B) {
	ts := startServer(b, Options{})
	upgrade := benchUpgrade(ts.addr)
	msg := `{"event":"pusher:ping"}`
	ping := append([]byte{0x81, 0x80 | byte(len(msg)), 0, 0, 0, 0}, msg...)
	const parallelism = 4
	socks := make(chan net.Conn, parallelism*runtime.GOMAXPROCS(0))
	buf := make([]byte, 1024)
	for range cap(socks) {
		nc, err := net.Dial("tcp", ts.addr)
		if err != nil {
			b.Fatal(err)
		}
		defer nc.Close()
		if err := readUntil(nc, upgrade, buf, "connection_established"); err != nil {
			b.Fatal(err)
		}
		socks <- nc
	}
	b.SetParallelism(parallelism)
	b.ReportAllocs()
	cpu0 := processCPU()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		nc := <-socks
		buf := make([]byte, 1024)
		for pb.Next() {
			if err := readUntil(nc, ping, buf, "pusher:pong"); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64((processCPU()-cpu0).Nanoseconds())/float64(b.N)/1e3, "µs-CPU/message")
}
