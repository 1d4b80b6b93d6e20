package server

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/reverb-go/reverb/laravelcfg"
)

const upgradeHead = "GET /app/reverb-key?protocol=7 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"

// subscribeFrame is a masked pusher:subscribe to channel.
func subscribeFrame(channel string) []byte {
	msg := `{"event":"pusher:subscribe","data":{"channel":"` + channel + `"}}`
	return append([]byte{0x81, 0x80 | byte(len(msg)), 0, 0, 0, 0}, msg...)
}

// readAllUntil reads nc until want arrived, and returns what was read.
func readAllUntil(t *testing.T, nc net.Conn, want string) string {
	t.Helper()
	_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	var got []byte
	buf := make([]byte, 4096)
	for !strings.Contains(string(got), want) {
		n, err := nc.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			t.Fatalf("waiting for %q: %v; read %q", want, err, got)
		}
	}
	return string(got)
}

// A request head may come in pieces and frames may follow it in the same
// segment; the upgrade sees all of it, in order.
func TestUpgradeInPiecesAndFramesBehindTheHead(t *testing.T) {
	ts := startServer(t, Options{})
	t.Run("byte by byte", func(t *testing.T) {
		nc, err := net.Dial("tcp", ts.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		head := upgradeHead + "\r\n"
		for i := 0; i < len(head); i++ {
			if _, err := nc.Write([]byte{head[i]}); err != nil {
				t.Fatal(err)
			}
			if i%16 == 0 {
				time.Sleep(time.Millisecond)
			}
		}
		got := readAllUntil(t, nc, "connection_established")
		if !strings.HasPrefix(got, "HTTP/1.1 101 Switching Protocols\r\n") {
			t.Fatalf("response %q", got)
		}
	})
	t.Run("frames in the same write", func(t *testing.T) {
		nc, err := net.Dial("tcp", ts.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		out := append([]byte(upgradeHead+"\r\n"), subscribeFrame("behind")...)
		if _, err := nc.Write(out); err != nil {
			t.Fatal(err)
		}
		got := readAllUntil(t, nc, "subscription_succeeded")
		if i, j := strings.Index(got, "connection_established"), strings.Index(got, "subscription_succeeded"); i < 0 || i > j {
			t.Fatalf("out of order: %q", got)
		}
	})
	t.Run("more frames behind the head than one read takes", func(t *testing.T) {
		// The poller's first read fills its buffer: what is left in the
		// socket has no new edge to announce it, and must be read too.
		nc, err := net.Dial("tcp", ts.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		ping := `{"event":"pusher:ping"}`
		frame := append([]byte{0x81, 0x80 | byte(len(ping)), 0, 0, 0, 0}, ping...)
		const pings = 1500 // 43 KB of frames, more than the 32 KiB read
		out := []byte(upgradeHead + "\r\n")
		for i := 0; i < pings; i++ {
			out = append(out, frame...)
		}
		if _, err := nc.Write(out); err != nil {
			t.Fatal(err)
		}
		_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		var got []byte
		buf := make([]byte, 64<<10)
		for strings.Count(string(got), "pusher:pong") < pings {
			n, err := nc.Read(buf)
			got = append(got, buf[:n]...)
			if err != nil {
				t.Fatalf("%d of %d pongs: %v", strings.Count(string(got), "pusher:pong"), pings, err)
			}
		}
	})
	t.Run("bare LF line ends", func(t *testing.T) {
		// net/http ends a line at "\n" with or without "\r": a head
		// written that way is answered, not left to time out.
		nc, err := net.Dial("tcp", ts.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		out := append([]byte(strings.ReplaceAll(upgradeHead, "\r\n", "\n")+"\n"), subscribeFrame("lf")...)
		if _, err := nc.Write(out); err != nil {
			t.Fatal(err)
		}
		got := readAllUntil(t, nc, "subscription_succeeded")
		if !strings.HasPrefix(got, "HTTP/1.1 101 Switching Protocols\r\n") {
			t.Fatalf("response %q", got)
		}
	})
	t.Run("frames behind a bare LF empty line", func(t *testing.T) {
		// The head ends at the first empty line, "\n" here: the bytes
		// after it are frames even where they hold a "\r\n\r\n".
		nc, err := net.Dial("tcp", ts.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		msg := "{\"event\":\"pusher:subscribe\",\r\n\r\n\"data\":{\"channel\":\"second\"}}"
		out := append([]byte(upgradeHead+"\n"), subscribeFrame("first")...)
		out = append(out, append([]byte{0x81, 0x80 | byte(len(msg)), 0, 0, 0, 0}, msg...)...)
		if _, err := nc.Write(out); err != nil {
			t.Fatal(err)
		}
		got := readAllUntil(t, nc, `"channel":"second"`)
		if strings.Count(got, "subscription_succeeded") != 2 || !strings.Contains(got, `"channel":"first"`) {
			t.Fatalf("both subscribes answered? %q", got)
		}
	})
	t.Run("long head, frames behind", func(t *testing.T) {
		// Longer than what the pollers keep: net/http reads it, and the
		// frames it read past the head are not lost.
		big := startServer(t, Options{MaxRequestSize: 64 << 10})
		nc, err := net.Dial("tcp", big.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		out := append([]byte(upgradeHead+"X-Pad: "+strings.Repeat("p", 20<<10)+"\r\n\r\n"), subscribeFrame("long")...)
		if _, err := nc.Write(out); err != nil {
			t.Fatal(err)
		}
		readAllUntil(t, nc, "subscription_succeeded")
	})
}

// What is not a clean upgrade is answered by net/http as before, and the
// API shares the port.
func TestUpgradeFallbacksAnswerAsBefore(t *testing.T) {
	ts := startServer(t, Options{})
	cases := []struct {
		name, req, status string
	}{
		{"bad key", strings.Replace(upgradeHead, "dGhlIHNhbXBsZSBub25jZQ==", "short", 1) + "\r\n", "HTTP/1.1 400 Invalid Sec-WebSocket-Key"},
		{"POST", strings.Replace(upgradeHead, "GET", "POST", 1) + "Content-Length: 0\r\n\r\n", "HTTP/1.1 405 Method Not Allowed"},
		{"no Host", strings.Replace(upgradeHead, "Host: x\r\n", "", 1) + "\r\n", "HTTP/1.1 400 Bad Request"},
		{"two Hosts", upgradeHead + "Host: y\r\n\r\n", "HTTP/1.1 400 Bad Request"},
		{"bad header value", upgradeHead + "X-Bad: a\x01b\r\n\r\n", "HTTP/1.1 400 Bad Request"},
		{"HTTP/1.0", strings.Replace(upgradeHead, "HTTP/1.1", "HTTP/1.0", 1) + "\r\n", "HTTP/1.1 505 HTTP Version not supported"},
		{"version 8", strings.Replace(upgradeHead, "Version: 13", "Version: 8", 1) + "\r\n", "HTTP/1.1 426 Upgrade Required"},
		{"too large", upgradeHead + "X-Pad: " + strings.Repeat("p", 12000) + "\r\n\r\n", "HTTP/1.1 413 Request Entity Too Large"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			nc, err := net.Dial("tcp", ts.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			if _, err := io.WriteString(nc, tc.req); err != nil {
				t.Fatal(err)
			}
			_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
			line, err := bufio.NewReader(nc).ReadString('\n')
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(line, tc.status) { // net/http may add its reason
				t.Fatalf("status line %q, want %q", line, tc.status)
			}
		})
	}
	t.Run("unknown app", func(t *testing.T) {
		nc, err := net.Dial("tcp", ts.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		_, _ = io.WriteString(nc, strings.Replace(upgradeHead, "reverb-key", "no-such-key", 1)+"\r\n")
		readAllUntil(t, nc, "Application does not exist")
	})
	t.Run("API on the same port", func(t *testing.T) {
		resp, err := http.Get("http://" + ts.addr + "/up")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("GET /up: %d", resp.StatusCode)
		}
	})
}

// Sockets that never finish their request are closed by Close, and one
// that hangs up early costs nothing else.
func TestUpgradePendingSocketsClosed(t *testing.T) {
	s, err := New(Options{Apps: []laravelcfg.App{appA()}})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	gone, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.WriteString(gone, "GET /app/reverb-key HTTP/1.1\r\n")
	gone.Close()
	var half []net.Conn
	for i := 0; i < 5; i++ {
		nc, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		_, _ = io.WriteString(nc, "GET /app/reverb-key HTTP/1.1\r\nHost: x\r\n")
		half = append(half, nc)
	}
	time.Sleep(100 * time.Millisecond)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after Close")
	}
	for _, nc := range half {
		_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		if n, err := nc.Read(make([]byte, 64)); err == nil {
			t.Fatalf("a pending socket got %d bytes and stayed open", n)
		}
	}
}
