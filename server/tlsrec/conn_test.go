package tlsrec

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// handshakeFast accepts one connection, handshakes, checks it is on the
// record layer and detaches it into a push driver.
func handshakeFast(t *testing.T, ch <-chan *Conn) (*Conn, *pushDriver) {
	t.Helper()
	c := accept(t, ch)
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	if err := c.Handshake(); err != nil {
		t.Fatalf("server handshake: %v", err)
	}
	_ = c.SetDeadline(time.Time{})
	if !c.Fast() {
		t.Fatalf("TLS 1.3 connection is not on the record layer (version %x)", c.ConnectionState().Version)
	}
	s, raw, buffered, ok := c.Detach()
	if !ok {
		t.Fatal("Detach refused")
	}
	return c, newPushDriver(s, raw, buffered)
}

// TestGoClientRoundTrip: crypto/tls clients against the record layer, with
// and without session tickets, with a client certificate, resumed, and with
// Go's cipher-suite choice (AES-128-GCM with AES hardware, else ChaCha20).
func TestGoClientRoundTrip(t *testing.T) {
	p := getPKI(t)
	cases := []struct {
		name       string
		noTickets  bool
		clientAuth bool
	}{
		{"tickets", false, false},
		{"no tickets", true, false},
		{"client certificate", false, true},
		{"client certificate, no tickets", true, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := serverConfig(t)
			cfg.SessionTicketsDisabled = tc.noTickets
			if tc.clientAuth {
				cfg.ClientAuth = tls.RequireAndVerifyClientCert
				cfg.ClientCAs = p.caPool
			}
			ln, ch := listen(t, cfg)
			ccfg := clientConfig(t)
			ccfg.ClientSessionCache = tls.NewLRUClientSessionCache(4)
			if tc.clientAuth {
				ccfg.Certificates = []tls.Certificate{p.client}
			}
			for round := 0; round < 2; round++ {
				cc, err := tls.Dial("tcp", ln.Addr().String(), ccfg)
				if err != nil {
					t.Fatal(err)
				}
				sc, d := handshakeFast(t, ch)
				if tc.clientAuth && len(sc.ConnectionState().PeerCertificates) == 0 {
					t.Fatal("client certificate not seen")
				}
				if want := os.Getenv("TLSREC_WANT_SUITE"); want != "" {
					if got := tls.CipherSuiteName(sc.ConnectionState().CipherSuite); got != want {
						t.Fatalf("negotiated %s, want %s", got, want)
					}
				}
				go d.run(0)
				echoRounds(t, cc, d)
				st := cc.ConnectionState()
				if wantResume := round == 1 && !tc.noTickets; st.DidResume != wantResume {
					t.Fatalf("round %d: DidResume = %v, want %v", round, st.DidResume, wantResume)
				}
				cc.Close()
				if err := d.waitErr(t); err != ErrCloseNotify {
					t.Fatalf("after the client's Close: %v, want ErrCloseNotify", err)
				}
			}
		})
	}
}

// TestGoClientChaCha runs TestGoClientRoundTrip again in a process whose
// CPU reports no AES instructions (GODEBUG=cpu.aes=off): crypto/tls on
// both ends then prefers ChaCha20-Poly1305, the suite browsers without
// AES hardware pick. (Go's TLS 1.3 suites cannot be chosen otherwise;
// AES-256-GCM is covered by openssl and Node.)
func TestGoClientChaCha(t *testing.T) {
	if os.Getenv("TLSREC_WANT_SUITE") != "" {
		t.Skip("already the child")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run", "^TestGoClientRoundTrip$", "-test.count", "1")
	cmd.Env = append(os.Environ(), "GODEBUG=cpu.aes=off", "TLSREC_WANT_SUITE=TLS_CHACHA20_POLY1305_SHA256")
	out, err := cmd.CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("PASS")) {
		t.Fatalf("%v\n%s", err, out)
	}
}

// echoRounds sends messages of several sizes (one spanning many records)
// both ways between a crypto/tls client and the driver.
func echoRounds(t *testing.T, cc *tls.Conn, d *pushDriver) {
	t.Helper()
	sent := 0
	for _, size := range []int{1, 100, MaxPlaintext - 1, MaxPlaintext, MaxPlaintext + 1, 200 << 10} {
		msg := make([]byte, size)
		_, _ = rand.Read(msg)
		if _, err := cc.Write(msg); err != nil {
			t.Fatal(err)
		}
		sent += size
		got := d.waitFor(t, sent)
		if !bytes.Equal(got[sent-size:], msg) {
			t.Fatalf("server got %d bytes, not what the client sent", len(got))
		}
		if err := d.write(msg); err != nil {
			t.Fatal(err)
		}
		if back := readFull(t, cc, size); !bytes.Equal(back, msg) {
			t.Fatalf("client got back %d bytes that differ", size)
		}
	}
}

// TestKeyUpdateWithGoClient: the server asks for a KeyUpdate; crypto/tls
// answers with its own, and traffic goes on both ways under the new keys,
// several times.
func TestKeyUpdateWithGoClient(t *testing.T) {
	ln, ch := listen(t, serverConfig(t))
	cc, err := tls.Dial("tcp", ln.Addr().String(), clientConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	_, d := handshakeFast(t, ch)
	go d.run(0)
	sent := 0
	for i := 0; i < 5; i++ {
		in0 := d.s.in.secret
		d.s.UpdateKeys(i%2 == 0)
		msg := []byte(fmt.Sprintf("after update %d", i))
		if err := d.write(msg); err != nil {
			t.Fatal(err)
		}
		if got := readFull(t, cc, len(msg)); !bytes.Equal(got, msg) {
			t.Fatalf("client read %q", got)
		}
		// crypto/tls answered an update_requested inside that Read.
		if _, err := cc.Write(msg); err != nil {
			t.Fatal(err)
		}
		sent += len(msg)
		if got := d.waitFor(t, sent); !bytes.HasSuffix(got, msg) {
			t.Fatalf("server read %q", got)
		}
		if changed := d.s.in.secret != in0; changed != (i%2 == 0) {
			t.Fatalf("round %d: read key changed = %v", i, changed)
		}
	}
}

// TestRekeyAfterLimit: the writer moves to a new key on its own after
// rekeyAfter records; the peer follows.
func TestRekeyAfterLimit(t *testing.T) {
	old := rekeyAfter
	rekeyAfter = 3
	defer func() { rekeyAfter = old }()
	ln, ch := listen(t, serverConfig(t))
	cc, err := tls.Dial("tcp", ln.Addr().String(), clientConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	_, d := handshakeFast(t, ch)
	out0 := d.s.out.secret
	for i := 0; i < 10; i++ {
		if err := d.write([]byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	if got := readFull(t, cc, 10); string(got) != "xxxxxxxxxx" {
		t.Fatalf("client read %q", got)
	}
	if d.s.out.secret == out0 || d.s.out.seq >= 3 {
		t.Fatalf("write key not rotated (seq %d)", d.s.out.seq)
	}
}

// TestFeedByteByByte: records arriving one byte at a time.
func TestFeedByteByByte(t *testing.T) {
	ln, ch := listen(t, serverConfig(t))
	cc, err := tls.Dial("tcp", ln.Addr().String(), clientConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	_, d := handshakeFast(t, ch)
	go d.run(1)
	msg := bytes.Repeat([]byte("0123456789"), 5000)
	if _, err := cc.Write(msg); err != nil {
		t.Fatal(err)
	}
	if got := d.waitFor(t, len(msg)); !bytes.Equal(got, msg) {
		t.Fatalf("got %d bytes that differ", len(got))
	}
}

// TestConnHTTPPhase: the Conn serves reads and writes itself before
// Detach (net/http reads the upgrade request through it), bytes read ahead
// come back from Detach, and the driver continues the same stream.
func TestConnHTTPPhase(t *testing.T) {
	ln, ch := listen(t, serverConfig(t))
	cc, err := tls.Dial("tcp", ln.Addr().String(), clientConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	// Request and first frame in one write, as a WebSocket client may do.
	if _, err := cc.Write([]byte("GET / HTTP/1.1\r\n\r\nFRAME")); err != nil {
		t.Fatal(err)
	}
	sc := accept(t, ch)
	br := bufio.NewReaderSize(sc, 16)
	line, err := br.ReadString('\n')
	if err != nil || line != "GET / HTTP/1.1\r\n" {
		t.Fatalf("request line %q, %v", line, err)
	}
	if _, err := sc.Write([]byte("HTTP/1.1 101 Switching Protocols\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	ahead, _ := br.Peek(br.Buffered())
	s, raw, buffered, ok := sc.Detach()
	if !ok {
		t.Fatal("Detach refused")
	}
	d := newPushDriver(s, raw, append(append([]byte(nil), ahead...), buffered...))
	go d.run(0)
	if got := readFull(t, cc, 36); string(got) != "HTTP/1.1 101 Switching Protocols\r\n\r\n" {
		t.Fatalf("client read %q", got)
	}
	if _, err := cc.Write([]byte("MORE")); err != nil {
		t.Fatal(err)
	}
	if got := d.waitFor(t, 11); string(got) != "\r\nFRAMEMORE" {
		t.Fatalf("after the request line the server has %q", got)
	}
	if _, err := sc.Read(make([]byte, 1)); err != errDetached {
		t.Fatalf("Read after Detach: %v", err)
	}
}

// TestConnAsNetConn: with no Detach the Conn is a full net.Conn on the
// record layer (the portable path): echo, KeyUpdate answered inside Read,
// close_notify both ways.
func TestConnAsNetConn(t *testing.T) {
	ln, ch := listen(t, serverConfig(t))
	cc, err := tls.Dial("tcp", ln.Addr().String(), clientConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	sc := accept(t, ch)
	done := make(chan error, 1)
	go func() {
		_, err := io.Copy(sc, sc)
		sc.Close()
		done <- err
	}()
	msg := make([]byte, 100<<10)
	_, _ = rand.Read(msg)
	go func() { _, _ = cc.Write(msg) }()
	if got := readFull(t, cc, len(msg)); !bytes.Equal(got, msg) {
		t.Fatal("echo differs")
	}
	if !sc.Fast() {
		t.Fatal("not on the record layer")
	}
	// Server-initiated KeyUpdate through the Conn's own Write path.
	sc.s.UpdateKeys(true)
	if _, err := cc.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	if got := readFull(t, cc, 4); string(got) != "ping" {
		t.Fatalf("client read %q", got)
	}
	if err := cc.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("server copy ended with %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("server did not see close_notify")
	}
	_ = cc.SetReadDeadline(time.Now().Add(20 * time.Second))
	if n, err := cc.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Fatalf("client after the server's close: %d, %v (want EOF from close_notify)", n, err)
	}
	cc.Close()
}

// TestTLS12StaysOnCryptoTLS: a TLS 1.2 client is served by tls.Conn.
func TestTLS12StaysOnCryptoTLS(t *testing.T) {
	ln, ch := listen(t, serverConfig(t))
	ccfg := clientConfig(t)
	ccfg.MaxVersion = tls.VersionTLS12
	cc, err := tls.Dial("tcp", ln.Addr().String(), ccfg)
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	sc := accept(t, ch)
	go func() { _, _ = io.Copy(sc, sc) }()
	if _, err := cc.Write([]byte("twelve")); err != nil {
		t.Fatal(err)
	}
	if got := readFull(t, cc, 6); string(got) != "twelve" {
		t.Fatalf("client read %q", got)
	}
	if sc.Fast() {
		t.Fatal("TLS 1.2 connection claims the record layer")
	}
	if _, _, _, ok := sc.Detach(); ok {
		t.Fatal("Detach of a TLS 1.2 connection")
	}
}

// TestHandshakeFailures: a plain HTTP request gets net/http's 400, a client
// without the required certificate is refused, and neither panics.
func TestHandshakeFailures(t *testing.T) {
	t.Run("http on the https port", func(t *testing.T) {
		ln, ch := listen(t, serverConfig(t))
		raw, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer raw.Close()
		_, _ = raw.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
		sc := accept(t, ch)
		if err := sc.Handshake(); err == nil {
			t.Fatal("handshake succeeded")
		}
		_ = raw.SetReadDeadline(time.Now().Add(10 * time.Second))
		b, _ := io.ReadAll(raw)
		if !strings.HasPrefix(string(b), "HTTP/1.0 400 Bad Request") {
			t.Fatalf("answer %q", b)
		}
	})
	t.Run("missing client certificate", func(t *testing.T) {
		cfg := serverConfig(t)
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
		cfg.ClientCAs = getPKI(t).caPool
		ln, ch := listen(t, cfg)
		errc := make(chan error, 1)
		go func() {
			cc, err := tls.Dial("tcp", ln.Addr().String(), clientConfig(t))
			if err == nil {
				_ = cc.SetReadDeadline(time.Now().Add(10 * time.Second))
				_, err = cc.Read(make([]byte, 1)) // TLS 1.3: the refusal comes after the client's Finished
				cc.Close()
			}
			errc <- err
		}()
		sc := accept(t, ch)
		if err := sc.Handshake(); err == nil {
			t.Fatal("handshake succeeded without a client certificate")
		}
		if err := <-errc; err == nil || !strings.Contains(err.Error(), "certificate required") {
			t.Fatalf("client saw %v", err)
		}
	})
}

// TestBadRecords: what a broken or hostile peer sends after the handshake
// gets the alert RFC 8446 names, the stream ends, nothing panics.
func TestBadRecords(t *testing.T) {
	cases := []struct {
		name  string
		raw   func(valid []byte) []byte // from one valid record of "hello"
		alert Alert
		seen  string // crypto/tls's name of the alert
	}{
		{"flipped byte", func(v []byte) []byte { v[len(v)-1] ^= 1; return v }, AlertBadRecordMAC, "bad record MAC"},
		{"flipped header", func(v []byte) []byte { v[4]--; return append(v, 0) }, AlertBadRecordMAC, "bad record MAC"},
		{"plaintext handshake", func([]byte) []byte { return []byte{22, 3, 3, 0, 1, 0} }, AlertUnexpectedMessage, "unexpected message"},
		{"plaintext alert", func([]byte) []byte { return []byte{21, 3, 3, 0, 2, 2, 40} }, AlertUnexpectedMessage, "unexpected message"},
		{"change cipher spec", func([]byte) []byte { return []byte{20, 3, 3, 0, 1, 1} }, AlertUnexpectedMessage, "unexpected message"},
		{"unknown type", func([]byte) []byte { return []byte{99} }, AlertUnexpectedMessage, "unexpected message"},
		{"old version", func(v []byte) []byte { v[2] = 1; return v }, AlertProtocolVersion, "protocol version not supported"},
		{"oversized", func([]byte) []byte { return []byte{23, 3, 3, 0x41, 0x01} }, AlertRecordOverflow, "record overflow"},
		{"too short for a tag", func([]byte) []byte { return []byte{23, 3, 3, 0, 3, 1, 2, 3} }, AlertBadRecordMAC, "bad record MAC"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ln, ch := listen(t, serverConfig(t))
			raw, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer raw.Close()
			cc := tls.Client(raw, clientConfig(t))
			if err := cc.Handshake(); err != nil {
				t.Fatal(err)
			}
			_, d := handshakeFast(t, ch)
			valid, _ := peerOf(t, d.s).Seal(nil, []byte("hello"))
			go d.run(0)
			if _, err := raw.Write(tc.raw(valid)); err != nil {
				t.Fatal(err)
			}
			var pe *ProtocolError
			if err := d.waitErr(t); !errors.As(err, &pe) || pe.Alert != tc.alert {
				t.Fatalf("server: %v, want alert %v", err, tc.alert)
			}
			_ = cc.SetReadDeadline(time.Now().Add(10 * time.Second))
			_, err = cc.Read(make([]byte, 1))
			if err == nil || !strings.Contains(err.Error(), "remote error: tls: "+tc.seen) {
				t.Fatalf("client: %v, want the %v alert", err, tc.alert)
			}
		})
	}
}

// TestTruncatedRecord: a peer that stops mid-record ends the stream with
// ErrUnexpectedEOF on the Conn and nothing delivered.
func TestTruncatedRecord(t *testing.T) {
	ln, ch := listen(t, serverConfig(t))
	raw, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	cc := tls.Client(raw, clientConfig(t))
	if err := cc.Handshake(); err != nil {
		t.Fatal(err)
	}
	sc := accept(t, ch)
	if err := sc.Handshake(); err != nil || !sc.Fast() {
		t.Fatalf("handshake: %v", err)
	}
	valid, _ := peerOf(t, sc.s).Seal(nil, []byte("hello"))
	_, _ = raw.Write(valid[:len(valid)-3])
	raw.(*net.TCPConn).CloseWrite()
	_ = sc.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, err := sc.Read(make([]byte, 10))
	if n != 0 || err != io.ErrUnexpectedEOF {
		t.Fatalf("Read: %d, %v", n, err)
	}
	raw.Close()
}

// peerOf is the other end of s: it reads what s writes and writes what s
// reads (a client built from the server's keys), for crafting records.
func peerOf(t testing.TB, s *Session) *Session {
	t.Helper()
	p, err := NewSession(s.suite.id, s.out.secret[:s.out.slen], s.out.seq, s.in.secret[:s.in.slen], s.in.seq)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestConnRequestResponse: many small writes and reads in turn on one Conn
// (an HTTP keep-alive connection), so pooled buffers go round between the
// read and write paths.
func TestConnRequestResponse(t *testing.T) {
	ln, ch := listen(t, serverConfig(t))
	cc, err := tls.Dial("tcp", ln.Addr().String(), clientConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	sc := accept(t, ch)
	go func() {
		buf := make([]byte, 64)
		for {
			n, err := sc.Read(buf)
			if err != nil {
				return
			}
			if _, err := sc.Write(buf[:n]); err != nil {
				return
			}
		}
	}()
	for i := 0; i < 500; i++ {
		msg := []byte(fmt.Sprintf("request %d", i))
		if _, err := cc.Write(msg); err != nil {
			t.Fatal(err)
		}
		if got := readFull(t, cc, len(msg)); !bytes.Equal(got, msg) {
			t.Fatalf("got %q", got)
		}
	}
}
