package tlsrec

import (
	"crypto/tls"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// listenReporting is listen with the failures NewListener reports.
func listenReporting(t *testing.T) (net.Listener, <-chan HandshakeFailure) {
	t.Helper()
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	failures := make(chan HandshakeFailure, 4)
	ln := NewListener(raw, serverConfig(t), func(f HandshakeFailure) { failures <- f })
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				_ = c.(*Conn).Handshake()
				c.Close()
			}()
		}
	}()
	return ln, failures
}

func nextFailure(t *testing.T, failures <-chan HandshakeFailure) HandshakeFailure {
	t.Helper()
	select {
	case f := <-failures:
		return f
	case <-time.After(5 * time.Second):
		t.Fatal("no handshake failure reported")
		return HandshakeFailure{}
	}
}

func TestHandshakeFailuresAreReportedWithWhetherTheClientSentAnything(t *testing.T) {
	ln, failures := listenReporting(t)
	addr := ln.Addr().String()

	// A port check: connect, close.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	local := c.LocalAddr().String()
	c.Close()
	f := nextFailure(t, failures)
	if !f.Silent || f.Remote.String() != local {
		t.Errorf("connect and close: got %+v, want a silent failure from %s", f, local)
	}

	// Plain HTTP to the TLS port: a 400, and a failure that says why.
	c, err = net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(c, "GET /up HTTP/1.1\r\nHost: localhost\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	reply, _ := io.ReadAll(c)
	c.Close()
	if !strings.HasPrefix(string(reply), "HTTP/1.0 400 Bad Request") {
		t.Errorf("plain HTTP got %q, want a 400", reply)
	}
	f = nextFailure(t, failures)
	if f.Silent || f.Reason != "client sent an HTTP request to an HTTPS server" {
		t.Errorf("plain HTTP: got %+v", f)
	}

	// A client whose versions the server refuses.
	cfg := clientConfig(t)
	cfg.MaxVersion = tls.VersionTLS11
	cfg.MinVersion = tls.VersionTLS10
	if tc, err := tls.Dial("tcp", addr, cfg); err == nil {
		tc.Close()
		t.Fatal("a TLS 1.1 client was accepted")
	}
	f = nextFailure(t, failures)
	if f.Silent || !strings.Contains(f.Reason, "unsupported versions") {
		t.Errorf("TLS 1.1 client: got %+v", f)
	}

	// A completed handshake is not a failure.
	tc, err := tls.Dial("tcp", addr, clientConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	tc.Close()
	select {
	case f := <-failures:
		t.Errorf("a completed handshake was reported: %+v", f)
	case <-time.After(200 * time.Millisecond):
	}
}
