package supervisor

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestAddConnectionClose(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}", "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}"},
		{"HTTP/1.1 200 OK\r\nconnection: keep-alive\r\n\r\n", "HTTP/1.1 200 OK\r\nconnection: keep-alive\r\n\r\n"},
		{"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n"},
		{"\x81\x05hello", "\x81\x05hello"},
		{"HTTP/1.1 404 Not Found", "HTTP/1.1 404 Not Found"},
		{"HTTP/1.0 200 OK\r\n\r\n", "HTTP/1.0 200 OK\r\nConnection: close\r\n\r\n"},
		{"", ""},
	}
	for _, tt := range tests {
		got, _ := addConnectionClose([]byte(tt.in))
		if string(got) != tt.want {
			t.Errorf("addConnectionClose(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestDrainingListenerEndsKeepAlive(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := &drainListener{Listener: raw}
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })}
	go hs.Serve(ln)
	defer hs.Close()

	c, err := net.Dial("tcp", raw.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	do := func() *http.Response {
		io.WriteString(c, "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n")
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		io.ReadAll(resp.Body)
		return resp
	}
	if r := do(); r.Close {
		t.Fatal("closed before draining")
	}
	ln.startDraining()
	if r := do(); !r.Close {
		t.Fatal("response while draining does not close the connection")
	}
}

func FuzzAddConnectionClose(f *testing.F) {
	f.Add([]byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"))
	f.Add([]byte("HTTP/1.0 200 OK\r\n\r\n"))
	f.Add([]byte("HTTP/1.1 101 Switching Protocols\r\n\r\n"))
	f.Fuzz(func(t *testing.T, p []byte) {
		out, changed := addConnectionClose(p)
		if !changed {
			if string(out) != string(p) {
				t.Fatal("unchanged output differs")
			}
			return
		}
		if len(out) != len(p)+len("Connection: close\r\n") || !strings.Contains(string(out), "\r\nConnection: close\r\n") {
			t.Fatalf("bad insertion: %q", out)
		}
	})
}
