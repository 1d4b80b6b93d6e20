package websocket

import (
	"bufio"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	gws "github.com/gorilla/websocket"
)

func TestAcceptKey(t *testing.T) {
	// RFC 6455 section 1.3 example.
	if got := AcceptKey("dGhlIHNhbXBsZSBub25jZQ=="); got != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Fatalf("AcceptKey = %q", got)
	}
	want := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: abc\r\nX-Powered-By: Laravel Reverb\r\n\r\n"
	if got := string(AppendHandshakeResponse(nil, "abc")); got != want {
		t.Fatalf("AppendHandshakeResponse = %q", got)
	}
}

func TestCheckHandshake(t *testing.T) {
	const ok = "GET /app/key HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
	const upgradeHdrs = "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
	tests := []struct {
		name, req, want string
	}{
		{"valid", ok, ""},
		{"valid with browser extensions", ok + "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n", ""},
		{"keep-alive, Upgrade", strings.Replace(ok, "Connection: Upgrade", "Connection: keep-alive, Upgrade", 1), ""},
		{"case-insensitive upgrade", strings.Replace(ok, "Upgrade: websocket", "Upgrade: WebSocket", 1), ""},
		{"lenient key", strings.Replace(ok, "dGhlIHNhbXBsZSBub25jZQ==", "dGhlIHNhbXBsZSBub25jZQ", 1), ""},
		{"post", strings.Replace(ok, "GET", "POST", 1), "HTTP/1.1 405 Method Not Allowed\r\nAllow: GET\r\nX-Powered-By: Laravel Reverb\r\n\r\n"},
		{"http/1.0", strings.Replace(ok, "HTTP/1.1", "HTTP/1.0", 1), "HTTP/1.1 505 HTTP Version not supported\r\nX-Powered-By: Laravel Reverb\r\n\r\n"},
		{"two upgrade headers", ok + "Upgrade: websocket\r\n", "HTTP/1.1 426 Upgrade header MUST be provided\r\n" + upgradeHdrs + "X-Powered-By: Laravel Reverb\r\n\r\n"},
		{"no connection upgrade", strings.Replace(ok, "Connection: Upgrade", "Connection: keep-alive", 1), "HTTP/1.1 400 Connection Upgrade MUST be requested\r\nX-Powered-By: Laravel Reverb\r\n\r\n"},
		{"short key", strings.Replace(ok, "dGhlIHNhbXBsZSBub25jZQ==", "dGhlIHNhbXBsZQ==", 1), "HTTP/1.1 400 Invalid Sec-WebSocket-Key\r\nX-Powered-By: Laravel Reverb\r\n\r\n"},
		{"missing key", strings.Replace(ok, "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", "", 1), "HTTP/1.1 400 Invalid Sec-WebSocket-Key\r\nX-Powered-By: Laravel Reverb\r\n\r\n"},
		{"version 8", strings.Replace(ok, "Version: 13", "Version: 8", 1), "HTTP/1.1 426 Upgrade Required\r\n" + upgradeHdrs + "X-Powered-By: Laravel Reverb\r\n\r\n"},
		{"version 13.0", strings.Replace(ok, "Version: 13", "Version: 13.0", 1), ""},
		{"deflate option with value", ok + "Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover=1\r\n", "HTTP/1.1 400 client_no_context_takeover must not have a value.\r\nX-Powered-By: Laravel Reverb\r\n\r\n"},
		{"deflate window bits", ok + "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=20\r\n", "HTTP/1.1 400 server_max_window_bits must have a value between 8 and 15.\r\nX-Powered-By: Laravel Reverb\r\n\r\n"},
		{"deflate unknown option", ok + "Sec-WebSocket-Extensions: permessage-deflate; foo\r\n", "HTTP/1.1 400 Option \"foo\"is not valid for permessage deflate\r\nX-Powered-By: Laravel Reverb\r\n\r\n"},
		{"deflate duplicate", ok + "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits; client_max_window_bits=9\r\n", "HTTP/1.1 400 client_max_window_bits specified more than once. Connection must be declined.\r\nX-Powered-By: Laravel Reverb\r\n\r\n"},
		{"other extension ignored", ok + "Sec-WebSocket-Extensions: x-foo; bar\r\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(tt.req + "\r\n")))
			if err != nil {
				t.Fatal(err)
			}
			herr := CheckHandshake(r)
			got := ""
			if herr != nil {
				got = string(herr.AppendResponse(nil))
			}
			if got != tt.want {
				t.Fatalf("got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestIsUpgrade(t *testing.T) {
	for v, want := range map[string]bool{"websocket": true, "WebSocket": true, "h2c": false, "": false} {
		r, _ := http.NewRequest("GET", "/", nil)
		if v != "" {
			r.Header.Set("Upgrade", v)
		}
		if IsUpgrade(r) != want {
			t.Errorf("IsUpgrade(%q) = %v", v, !want)
		}
	}
}

func TestPHPInt(t *testing.T) {
	for s, want := range map[string]int64{"13": 13, " 13": 13, "13abc": 13, "1.3e1": 13, "abc": 0, "": 0, "-5": -5, "13.9": 13} {
		if got := phpInt(s); got != want {
			t.Errorf("phpInt(%q) = %d, want %d", s, got, want)
		}
	}
}

// TestWithGorilla runs a real gorilla/websocket client against a minimal
// server built from this package: handshake, echo, ping, close echo and a
// protocol violation.
func TestWithGorilla(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if herr := CheckHandshake(r); herr != nil {
			http.Error(w, herr.Error(), herr.Status)
			return
		}
		conn, brw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		conn.Write(AppendHandshakeResponse(nil, AcceptKey(r.Header.Get("Sec-WebSocket-Key"))))
		d := NewDecoder(1000, 0)
		buf := make([]byte, 4096)
		errClosed := &CloseError{}
		for {
			n, err := brw.Read(buf)
			if err != nil {
				return
			}
			err = d.Feed(buf[:n], func(op Opcode, p []byte) error {
				switch op {
				case OpText, OpBinary:
					_, err := conn.Write(AppendText(nil, p))
					return err
				case OpPing:
					_, err := conn.Write(AppendPong(nil, p))
					return err
				case OpClose:
					conn.Write(AppendFrame(nil, OpClose, EchoClosePayload(p)))
					return errClosed
				}
				return nil
			})
			if ce, ok := err.(*CloseError); ok && ce != errClosed {
				conn.Write(AppendClose(nil, ce.Code, ce.Reason))
				return
			}
			if err != nil {
				return
			}
		}
	})}
	go srv.Serve(ln)
	defer srv.Close()

	url := "ws://" + ln.Addr().String() + "/app/key"
	c, resp, err := gws.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Header.Get("X-Powered-By") != "Laravel Reverb" {
		t.Errorf("X-Powered-By = %q", resp.Header.Get("X-Powered-By"))
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	pong := make(chan string, 1)
	c.SetPongHandler(func(s string) error { pong <- s; return nil })
	c.WriteMessage(gws.TextMessage, []byte("héllo"))
	c.WriteControl(gws.PingMessage, []byte("p1"), time.Now().Add(time.Second))
	if _, m, err := c.ReadMessage(); err != nil || string(m) != "héllo" {
		t.Fatalf("echo = %q, %v", m, err)
	}
	// The pong is processed while reading the next message.
	c.WriteMessage(gws.TextMessage, []byte(strings.Repeat("x", 1001)))
	_, _, err = c.ReadMessage()
	if ce, ok := err.(*gws.CloseError); !ok || ce.Code != 1009 || ce.Text != "Maximum message size exceeded" {
		t.Fatalf("oversized message: %v", err)
	}
	select {
	case p := <-pong:
		if p != "p1" {
			t.Errorf("pong payload %q", p)
		}
	default:
		t.Error("no pong")
	}
	c.Close()

	c, _, err = gws.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	c.WriteMessage(gws.CloseMessage, gws.FormatCloseMessage(4000, "bye"))
	_, _, err = c.ReadMessage()
	if ce, ok := err.(*gws.CloseError); !ok || ce.Code != 4000 || ce.Text != "bye" {
		t.Fatalf("close echo: %v", err)
	}
	c.Close()
}
