package server

import (
	"bufio"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// A socket that resets right after subscribing leaves nothing behind: its
// cleanup and its subscription may race (the reset is noticed by a failed
// write while the subscribe is handled), and the subscription must not
// outlive the socket, or the channel stays occupied (and a presence member
// present) for good.
func TestResetWhileSubscribingLeavesNoSubscriber(t *testing.T) {
	for _, goroutines := range []bool{false, true} {
		ts := startServer(t, Options{GoroutineReaders: goroutines})
		head := "GET /app/reverb-key?protocol=7 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
		masked := func(msg string) []byte {
			f := []byte{0x81, 0x80 | 126, byte(len(msg) >> 8), byte(len(msg)), 0, 0, 0, 0}
			return append(f, msg...)
		}
		for i := range 300 {
			nc, err := net.Dial("tcp", ts.addr)
			if err != nil {
				t.Fatal(err)
			}
			if i%2 == 0 {
				// Head and subscribe in one write, reset before any reply.
				_, _ = nc.Write(append([]byte(head), masked(`{"event":"pusher:subscribe","data":{"channel":"reset-public"}}`)...))
			} else {
				// Established read, then a presence subscribe and the reset.
				_, _ = nc.Write([]byte(head))
				br := bufio.NewReader(nc)
				_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
				if resp, err := http.ReadResponse(br, nil); err != nil || resp.StatusCode != 101 {
					t.Fatalf("handshake: %v", err)
				}
				hdr := make([]byte, 2)
				_, _ = br.Read(hdr)
				body := make([]byte, hdr[1]&0x7f)
				_, _ = br.Read(body)
				var est struct{ Data string }
				_ = json.Unmarshal(body, &est)
				var d struct {
					SocketID string `json:"socket_id"`
				}
				_ = json.Unmarshal([]byte(est.Data), &d)
				data := `{"user_id":"u` + d.SocketID + `"}`
				auth := "reverb-key:" + sign("reverb-secret", d.SocketID+":presence-reset:"+data)
				_, _ = nc.Write(masked(`{"event":"pusher:subscribe","data":{"channel":"presence-reset","auth":"` + auth + `","channel_data":` + jsonString(data) + `}}`))
			}
			_ = nc.(*net.TCPConn).SetLinger(0)
			_ = nc.Close()
		}
		a := ts.s.table.Load().byKey["reverb-key"]
		deadline := time.Now().Add(5 * time.Second)
		for {
			a.mu.Lock()
			conns := len(a.conns)
			var left []string
			for name, ch := range a.channels {
				if ch.live > 0 {
					left = append(left, name)
				}
			}
			a.mu.Unlock()
			if conns == 0 && len(left) == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("goroutine readers %v: %d connections and channels %s still occupied after every socket reset", goroutines, conns, strings.Join(left, ", "))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}
