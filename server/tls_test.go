package server

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	gws "github.com/gorilla/websocket"

	"github.com/reverb-go/reverb/laravelcfg"
	"github.com/reverb-go/reverb/server/tlsrec"
)

var (
	certOnce sync.Once
	testCert tls.Certificate
	certPool *x509.CertPool
)

// selfSigned is a certificate for 127.0.0.1, made once per test binary.
func selfSigned(t testing.TB) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	certOnce.Do(func() {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{
			SerialNumber:          big.NewInt(1),
			Subject:               pkix.Name{CommonName: "127.0.0.1"},
			NotBefore:             time.Now().Add(-time.Hour),
			NotAfter:              time.Now().Add(24 * time.Hour),
			IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
			KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
			ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			IsCA:                  true,
			BasicConstraintsValid: true,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			panic(err)
		}
		leaf, _ := x509.ParseCertificate(der)
		testCert = tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
		certPool = x509.NewCertPool()
		certPool.AddCert(leaf)
	})
	return testCert, certPool
}

// startTLSServer serves opts over the TLS listener reverb uses.
func startTLSServer(t testing.TB, opts Options) *testServer {
	t.Helper()
	cert, _ := selfSigned(t)
	if opts.Apps == nil {
		opts.Apps = []laravelcfg.App{appA(), appB(), appC()}
	}
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := tlsrec.NewListener(raw, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil)
	go func() { _ = s.Serve(ln) }()
	t.Cleanup(func() { _ = s.Close(); _ = ln.Close() })
	return &testServer{s: s, addr: raw.Addr().String()}
}

// dialTLS connects over wss with at most maxVersion and reads
// connection_established.
func (ts *testServer) dialTLS(t testing.TB, maxVersion uint16) *client {
	t.Helper()
	_, pool := selfSigned(t)
	d := gws.Dialer{HandshakeTimeout: 10 * time.Second, TLSClientConfig: &tls.Config{RootCAs: pool, MaxVersion: maxVersion}}
	ws, resp, err := d.Dial("wss://"+ts.addr+"/app/reverb-key?protocol=7&client=js&version=8.4.0", nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { _ = ws.Close() })
	c := &client{t: t, ws: ws, resp: resp}
	got := c.expectContains("pusher:connection_established")
	i := strings.Index(got, `socket_id\":\"`)
	rest := got[i+len(`socket_id\":\"`):]
	c.id = rest[:strings.Index(rest, `\"`)]
	return c
}

// serverConn finds the server's side of a client.
func (ts *testServer) serverConn(t testing.TB, c *client) *conn {
	t.Helper()
	a := ts.s.table.Load().byKey["reverb-key"]
	a.mu.Lock()
	defer a.mu.Unlock()
	sc := a.conns[c.id]
	if sc == nil {
		t.Fatalf("no server connection %s", c.id)
	}
	return sc
}

// TestTLSOnThePollerPath: a TLS 1.3 WebSocket runs on the raw socket with
// the record layer (on the epoll poller on Linux), a TLS 1.2 one on
// crypto/tls; both subscribe, get broadcasts (one larger than a record),
// send client events and pings, and see a close frame.
func TestTLSOnThePollerPath(t *testing.T) {
	for _, goroutines := range []bool{false, true} {
		for _, v := range []uint16{tls.VersionTLS13, tls.VersionTLS12} {
			t.Run(fmt.Sprintf("TLS 1.%d, goroutine readers %v", v-tls.VersionTLS10, goroutines), func(t *testing.T) {
				ts := startTLSServer(t, Options{GoroutineReaders: goroutines})
				c := ts.dialTLS(t, v)
				other := ts.dialTLS(t, v)
				sc := ts.serverConn(t, c)
				if fast := sc.tls != nil; fast != (v == tls.VersionTLS13) {
					t.Fatalf("record layer in use: %v", fast)
				}
				if polled := sc.poll.Load() != nil; polled != (v == tls.VersionTLS13 && !goroutines && ts.s.polls != nil) {
					t.Fatalf("on the poller: %v", polled)
				}
				c.subscribe("private-chat", "", "reverb-secret")
				c.subscribed("private-chat")
				other.subscribe("private-chat", "", "reverb-secret")
				other.subscribed("private-chat")
				big := strings.Repeat("x", 3*tlsrec.MaxPlaintext)
				for _, data := range []string{"small", big} {
					ts.trigger(t, "123456", "App\\Events\\Ev", data, "private-chat")
					c.expectContains(data)
					other.expectContains(data)
				}
				c.send(`{"event":"client-typing","channel":"private-chat","data":{"user":1}}`)
				other.expect(`{"event":"client-typing","channel":"private-chat","data":{"user":1}}`)
				c.send(`{"event":"pusher:ping","data":{}}`)
				c.expect(`{"event":"pusher:pong"}`)
				// A drain closes with 4200 (then close_notify).
				go func() { _ = ts.s.Drain(context.Background(), 0) }()
				for _, cl := range []*client{c, other} {
					if code, _ := cl.expectClose(); code != 4200 {
						t.Fatalf("close code %d", code)
					}
				}
			})
		}
	}
}

// TestTLSSlowReader: a client that stops reading while a thousand frames
// are broadcast gets every one in order once it reads again (chunks sealed
// as the socket takes them, the rest on a writer goroutine).
func TestTLSSlowReader(t *testing.T) {
	ts := startTLSServer(t, Options{})
	c := ts.dialTLS(t, tls.VersionTLS13)
	c.subscribe("news", "", "")
	c.subscribed("news")
	payload := strings.Repeat("p", 1500)
	const n = 1000 // 1.5 MB, more than loopback buffers take
	for i := 0; i < n; i++ {
		ts.trigger(t, "123456", "E", fmt.Sprintf("%d:%s", i, payload), "news")
	}
	for i := 0; i < n; i++ {
		want := fmt.Sprintf(`"data":"%d:`, i)
		_ = c.ws.SetReadDeadline(time.Now().Add(20 * time.Second))
		_, p, err := c.ws.ReadMessage()
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if !bytes.Contains(p, []byte(want)) {
			t.Fatalf("frame %d out of order: %.60s", i, p)
		}
	}
}

// TestTLSKeyUpdateFromServer: the server's record layer asks the client
// (crypto/tls under gorilla) for a KeyUpdate with nothing queued; the
// answer arrives and traffic goes on both ways.
func TestTLSKeyUpdateFromServer(t *testing.T) {
	ts := startTLSServer(t, Options{})
	c := ts.dialTLS(t, tls.VersionTLS13)
	sc := ts.serverConn(t, c)
	c.subscribe("news", "", "")
	c.subscribed("news")
	for i := 0; i < 3; i++ {
		sc.tls.s.UpdateKeys(true)
		sc.kickOwed()
		ts.trigger(t, "123456", "E", fmt.Sprintf("after-%d", i), "news")
		c.expectContains(fmt.Sprintf("after-%d", i))
		c.send(`{"event":"pusher:ping","data":{}}`)
		c.expect(`{"event":"pusher:pong"}`)
	}
}

// TestTLSGarbage: bytes that are not a record after the upgrade get an
// alert and a closed socket; other clients go on.
func TestTLSGarbage(t *testing.T) {
	ts := startTLSServer(t, Options{})
	_, pool := selfSigned(t)
	raw, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	tc := tls.Client(raw, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
	_, _ = tc.Write([]byte("GET /app/reverb-key?protocol=7 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"))
	_ = tc.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 4096)
	got := ""
	for !strings.Contains(got, "connection_established") {
		n, err := tc.Read(buf)
		if err != nil {
			t.Fatalf("upgrade: %v (%q)", err, got)
		}
		got += string(buf[:n])
	}
	other := ts.dialTLS(t, tls.VersionTLS13)
	_, _ = raw.Write([]byte{23, 3, 3, 0, 20, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20})
	for {
		_, err := tc.Read(buf)
		if err != nil {
			if !strings.Contains(err.Error(), "bad record MAC") {
				t.Fatalf("client saw %v, want the bad_record_mac alert", err)
			}
			break
		}
	}
	other.send(`{"event":"pusher:ping","data":{}}`)
	other.expect(`{"event":"pusher:pong"}`)
}

// TestRawTCPKeepsTLS: the record-layer connection is never unwrapped to
// its raw socket by accident.
func TestRawTCPKeepsTLS(t *testing.T) {
	cert, _ := selfSigned(t)
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if _, ok := rawTCP(tlsrec.Server(a, &tls.Config{Certificates: []tls.Certificate{cert}})); ok {
		t.Fatal("rawTCP unwrapped a TLS connection")
	}
}

// TestTLSHTTPAPI: the HTTP API over HTTPS, keep-alive and not (net/http
// reads and writes through the record layer between requests).
func TestTLSHTTPAPI(t *testing.T) {
	ts := startTLSServer(t, Options{})
	_, pool := selfSigned(t)
	for _, keepAlive := range []bool{true, false} {
		cl := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: pool}, DisableKeepAlives: !keepAlive}}
		for i := 0; i < 50; i++ {
			resp, err := cl.Post("https://"+ts.addr+"/apps/123456/events", "application/json",
				strings.NewReader(`{"name":"a","channels":["c"],"data":"{}"}`))
			if err != nil {
				t.Fatalf("keep-alive %v, request %d: %v", keepAlive, i, err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("request %d: %d %s", i, resp.StatusCode, body)
			}
		}
		cl.CloseIdleConnections()
	}
}

// TestTLSKeysRest: a quiet TLS socket's write key rests restDelay after its
// last write (its read key after each burst of input), and the socket wakes
// up fine.
func TestTLSKeysRest(t *testing.T) {
	ts := startTLSServer(t, Options{})
	c := ts.dialTLS(t, tls.VersionTLS13)
	c.subscribe("news", "", "")
	c.subscribed("news")
	sc := ts.serverConn(t, c)
	deadline := time.Now().Add(20 * time.Second)
	for {
		sc.omu.Lock()
		resting := !sc.writing && !sc.tls.listed && sc.tls.s.WriteResting()
		sc.omu.Unlock()
		if resting {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("keys of a quiet socket still held")
		}
		time.Sleep(50 * time.Millisecond)
	}
	ts.trigger(t, "123456", "E", "wake", "news")
	c.expectContains("wake")
	c.send(`{"event":"pusher:ping","data":{}}`)
	c.expect(`{"event":"pusher:pong"}`)
}

// tlsSubscriber opens a wss socket by hand (TLS 1.3 from crypto/tls),
// subscribes to "idle" and keeps no goroutine: what arrives later waits in
// the kernel's buffers, so the process's CPU is mostly the server's.
func tlsSubscriber(t testing.TB, addr string, pool *x509.CertPool) net.Conn {
	t.Helper()
	nc, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool})
	if err != nil {
		t.Fatal(err)
	}
	_, _ = nc.Write([]byte("GET /app/reverb-key HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"))
	msg := `{"event":"pusher:subscribe","data":{"channel":"idle"}}`
	frame := append([]byte{0x81, 0x80 | byte(len(msg)), 0, 0, 0, 0}, msg...)
	_, _ = nc.Write(frame)
	buf := make([]byte, 1024)
	got := ""
	_ = nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	for !strings.Contains(got, "subscription_succeeded") {
		n, err := nc.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		got += string(buf[:n])
	}
	return nc
}

// BenchmarkFanoutTLS is BenchmarkFanoutSockets over TLS 1.3 (AES-128-GCM):
// process CPU per delivered message to idle wss sockets, for comparison
// with the plain figure of the same run.
func BenchmarkFanoutTLS(b *testing.B) {
	for _, bc := range []struct{ n, burst int }{{1000, 1}, {1000, 10}} {
		b.Run(fmt.Sprintf("subs=%d/burst=%d", bc.n, bc.burst), func(b *testing.B) {
			ts := startTLSServer(b, Options{})
			_, pool := selfSigned(b)
			conns := make([]net.Conn, 0, bc.n)
			for i := 0; i < bc.n; i++ {
				conns = append(conns, tlsSubscriber(b, ts.addr, pool))
			}
			defer func() {
				for _, c := range conns {
					_ = c.Close()
				}
			}()
			a := ts.s.table.Load().list[0]
			a.mu.Lock()
			subs := a.channels["idle"].subscribers()
			a.mu.Unlock()
			msg := messageMsg(a, []byte(`{"event":"App\\Events\\Bench","channels":["idle"],"data":"{\"n\":1}"}`), "")
			frameLen := int64(len(textFrame([]byte(`{"event":"App\\Events\\Bench","data":"{\"n\":1}","channel":"idle"}`))))
			b.ResetTimer()
			cpu0 := processCPU()
			for i := 0; i < b.N; i++ {
				want := a.stats.BytesOut.Load() + frameLen*int64(len(subs)*bc.burst)
				for k := 0; k < bc.burst; k++ {
					ts.s.deliver(msg)
				}
				for a.stats.BytesOut.Load() < want {
					time.Sleep(20 * time.Microsecond)
				}
			}
			cpu := processCPU() - cpu0
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*bc.n*bc.burst), "cpu-ns/delivery")
		})
	}
}

// A wss subscriber that reads a large event slowly but steadily is kept,
// on TLS 1.3 (the server's record layer) as on TLS 1.2 (crypto/tls).
func TestTLSSlowSteadyReaderKept(t *testing.T) {
	old := writeTimeout
	writeTimeout = time.Second
	t.Cleanup(func() { writeTimeout = old })
	for _, v := range []uint16{tls.VersionTLS13, tls.VersionTLS12} {
		t.Run(tls.VersionName(v), func(t *testing.T) {
			ts := startTLSServer(t, Options{Apps: []laravelcfg.App{appA()}, MaxRequestSize: 24 << 20})
			nc := rawTLSSubscriber(t, ts, v)
			defer nc.Close()
			smallSendBuffers(t, ts)
			const size = 8 << 20
			ts.trigger(t, "123456", "e", strings.Repeat("x", size), "idle")
			buf := make([]byte, 64<<10)
			total := 0
			start := time.Now()
			for total < size {
				_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
				n, err := nc.Read(buf)
				total += n
				if err != nil {
					t.Fatalf("after %d of %d bytes in %v: %v", total, size, time.Since(start), err)
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
}

// A subscriber reading a large backlog steadily, whose socket is closed
// meanwhile (as a drain closes it), gets one write timeout from the close
// for the rest of its backlog, however the rest is cut into writes: on a
// plain socket, on TLS 1.3 (the server's record layer) and on TLS 1.2
// (crypto/tls) alike.
func TestClosedSteadyReaderGetsOneWriteTimeout(t *testing.T) {
	old := writeTimeout
	writeTimeout = time.Second
	t.Cleanup(func() { writeTimeout = old })
	for _, v := range []uint16{0, tls.VersionTLS13, tls.VersionTLS12} {
		name := "plain"
		if v != 0 {
			name = tls.VersionName(v)
		}
		t.Run(name, func(t *testing.T) {
			var ts *testServer
			var nc net.Conn
			if v == 0 {
				ts = startServer(t, Options{Apps: []laravelcfg.App{appA()}, MaxRequestSize: 24 << 20})
				nc = rawSubscriber(t, ts.addr)
				_ = nc.(*net.TCPConn).SetReadBuffer(64 << 10)
			} else {
				ts = startTLSServer(t, Options{Apps: []laravelcfg.App{appA()}, MaxRequestSize: 24 << 20})
				nc = rawTLSSubscriber(t, ts, v)
			}
			defer nc.Close()
			smallSendBuffers(t, ts)
			const size = 8 << 20
			ts.trigger(t, "123456", "e", strings.Repeat("x", size), "idle")
			buf := make([]byte, 16<<10)
			total := 0
			var closedAt time.Time
			for {
				_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
				n, err := nc.Read(buf)
				total += n
				if err != nil {
					break
				}
				if closedAt.IsZero() && total > 1<<20 {
					closedAt = time.Now()
					var conns []*conn
					for _, a := range ts.s.table.Load().byKey {
						a.mu.Lock()
						for _, c := range a.conns {
							conns = append(conns, c)
						}
						a.mu.Unlock()
					}
					for _, c := range conns {
						c.closeNow(4200, "Server restarting", false)
					}
				}
				// ~1.6 MB/s: each 256 KiB write well within the write
				// timeout, the whole backlog well beyond it.
				time.Sleep(10 * time.Millisecond)
			}
			if closedAt.IsZero() || total >= size {
				t.Fatalf("read %d of %d bytes: the closed socket's backlog was written to the end", total, size)
			}
			if d := time.Since(closedAt); d > closeLinger+writeTimeout {
				t.Fatalf("the closed socket's backlog was written for %v after the close", d)
			}
		})
	}
}

// rawTLSSubscriber connects over TLS at most version v with a 64 KiB
// receive buffer, and subscribes to "idle".
func rawTLSSubscriber(t *testing.T, ts *testServer, v uint16) net.Conn {
	t.Helper()
	_, pool := selfSigned(t)
	raw, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	_ = raw.(*net.TCPConn).SetReadBuffer(64 << 10)
	nc := tls.Client(raw, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MaxVersion: v})
	_, _ = nc.Write([]byte("GET /app/reverb-key HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"))
	msg := `{"event":"pusher:subscribe","data":{"channel":"idle"}}`
	_, _ = nc.Write(append([]byte{0x81, 0x80 | byte(len(msg)), 0, 0, 0, 0}, msg...))
	buf := make([]byte, 64<<10)
	got := ""
	_ = nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	for !strings.Contains(got, "subscription_succeeded") {
		n, err := nc.Read(buf)
		if err != nil {
			_ = nc.Close()
			t.Fatal(err)
		}
		got += string(buf[:n])
	}
	return nc
}
