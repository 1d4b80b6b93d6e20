package tlsrec

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// testPKI is a CA, a server certificate for 127.0.0.1/localhost and a
// client certificate, made once per test binary; files holds them as PEM
// for the openssl CLI.
type testPKI struct {
	caPool *x509.CertPool
	server tls.Certificate
	client tls.Certificate
	dir    string // ca.pem, server.pem, server.key, client.pem, client.key
}

var (
	pkiOnce sync.Once
	pki     *testPKI
	pkiErr  error
)

func getPKI(t testing.TB) *testPKI {
	t.Helper()
	pkiOnce.Do(func() { pki, pkiErr = makePKI() })
	if pkiErr != nil {
		t.Fatal(pkiErr)
	}
	return pki
}

func makePKI() (*testPKI, error) {
	dir, err := os.MkdirTemp("", "tlsrec-pki-")
	if err != nil {
		return nil, err
	}
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "tlsrec test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	caCert, _ := x509.ParseCertificate(caDER)
	p := &testPKI{caPool: x509.NewCertPool(), dir: dir}
	p.caPool.AddCert(caCert)
	issue := func(serial int64, cn string, usage x509.ExtKeyUsage, name string) (tls.Certificate, error) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial),
			Subject:      pkix.Name{CommonName: cn},
			NotBefore:    time.Now().Add(-time.Hour),
			NotAfter:     time.Now().Add(24 * time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{usage},
			DNSNames:     []string{"localhost"},
			IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
		if err != nil {
			return tls.Certificate{}, err
		}
		keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
		certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
		keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
		if err := os.WriteFile(filepath.Join(dir, name+".pem"), certPEM, 0o600); err != nil {
			return tls.Certificate{}, err
		}
		if err := os.WriteFile(filepath.Join(dir, name+".key"), keyPEM, 0o600); err != nil {
			return tls.Certificate{}, err
		}
		return tls.X509KeyPair(certPEM, keyPEM)
	}
	if p.server, err = issue(2, "localhost", x509.ExtKeyUsageServerAuth, "server"); err != nil {
		return nil, err
	}
	if p.client, err = issue(3, "tlsrec client", x509.ExtKeyUsageClientAuth, "client"); err != nil {
		return nil, err
	}
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	if err := os.WriteFile(filepath.Join(dir, "ca.pem"), caPEM, 0o600); err != nil {
		return nil, err
	}
	return p, nil
}

func TestMain(m *testing.M) {
	code := m.Run()
	if pki != nil {
		os.RemoveAll(pki.dir)
	}
	os.Exit(code)
}

func serverConfig(t testing.TB) *tls.Config {
	p := getPKI(t)
	return &tls.Config{Certificates: []tls.Certificate{p.server}, MinVersion: tls.VersionTLS12}
}

func clientConfig(t testing.TB) *tls.Config {
	p := getPKI(t)
	return &tls.Config{RootCAs: p.caPool, ServerName: "localhost"}
}

// listen starts a listener made by NewListener and returns it with a
// channel of its accepted connections.
func listen(t testing.TB, cfg *tls.Config) (net.Listener, <-chan *Conn) {
	t.Helper()
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := NewListener(raw, cfg, nil)
	ch := make(chan *Conn, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				close(ch)
				return
			}
			// Handshake at once (the client's Dial waits for it); a
			// later Handshake call returns its result.
			go c.(*Conn).Handshake()
			ch <- c.(*Conn)
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return ln, ch
}

func accept(t testing.TB, ch <-chan *Conn) *Conn {
	t.Helper()
	select {
	case c := <-ch:
		t.Cleanup(func() { c.raw.Close() })
		return c
	case <-time.After(10 * time.Second):
		t.Fatal("no connection accepted")
		return nil
	}
}

// pushDriver drives a detached Session the way the server's poller and
// flusher do: raw reads fed to the Session, plaintext collected, sealed
// records written with one write each.
type pushDriver struct {
	s   *Session
	raw net.Conn

	mu    sync.Mutex
	got   bytes.Buffer
	err   error // the Feed error that ended the stream
	moved chan struct{}

	// onData, when set, sees each record's plaintext on the driver's
	// goroutine (after it is added to got).
	onData func(p []byte)
}

func newPushDriver(s *Session, raw net.Conn, buffered []byte) *pushDriver {
	d := &pushDriver{s: s, raw: raw, moved: make(chan struct{}, 1)}
	d.got.Write(buffered)
	return d
}

// run reads until the stream ends; feedSize > 0 feeds the Session that
// many bytes at a time.
func (d *pushDriver) run(feedSize int) {
	buf := make([]byte, 64<<10)
	for {
		n, err := d.raw.Read(buf)
		raw := buf[:n]
		var ferr error
		for len(raw) > 0 && ferr == nil {
			k := len(raw)
			if feedSize > 0 {
				k = min(k, feedSize)
			}
			ferr = d.s.Feed(raw[:k], func(p []byte) error {
				d.mu.Lock()
				d.got.Write(p)
				d.mu.Unlock()
				if d.onData != nil {
					d.onData(p)
				}
				return nil
			})
			raw = raw[k:]
		}
		d.s.Rest()
		if d.s.WriteOwed() {
			d.write(nil)
		}
		if ferr != nil {
			var pe *ProtocolError
			if errors.As(ferr, &pe) {
				d.writeAlert(pe.Alert)
			}
			d.finish(ferr)
			return
		}
		d.signal()
		if err != nil {
			d.finish(err)
			return
		}
	}
}

func (d *pushDriver) signal() {
	select {
	case d.moved <- struct{}{}:
	default:
	}
}

func (d *pushDriver) finish(err error) {
	d.mu.Lock()
	d.err = err
	d.mu.Unlock()
	d.signal()
}

var writeMu sync.Mutex // the tests' single writer per driver

func (d *pushDriver) write(p []byte) error {
	writeMu.Lock()
	defer writeMu.Unlock()
	out, err := d.s.Seal(nil, p)
	if err != nil {
		return err
	}
	_, err = d.raw.Write(out)
	return err
}

func (d *pushDriver) writeAlert(a Alert) {
	writeMu.Lock()
	defer writeMu.Unlock()
	out, _ := d.s.AppendAlert(nil, a)
	_, _ = d.raw.Write(out)
}

// waitFor waits until the plaintext received has n bytes (or the stream
// ends) and returns it.
func (d *pushDriver) waitFor(t testing.TB, n int) []byte {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		d.mu.Lock()
		got, err := append([]byte(nil), d.got.Bytes()...), d.err
		d.mu.Unlock()
		if len(got) >= n || err != nil {
			return got
		}
		select {
		case <-d.moved:
		case <-deadline:
			t.Fatalf("timed out with %d of %d bytes", len(got), n)
		}
	}
}

func (d *pushDriver) waitErr(t testing.TB) error {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		d.mu.Lock()
		err := d.err
		d.mu.Unlock()
		if err != nil {
			return err
		}
		select {
		case <-d.moved:
		case <-deadline:
			t.Fatal("timed out waiting for the stream to end")
		}
	}
}

// readFull reads n bytes from r with a deadline.
func readFull(t testing.TB, c net.Conn, n int) []byte {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
	b := make([]byte, n)
	if _, err := io.ReadFull(c, b); err != nil {
		t.Fatalf("reading %d bytes: %v", n, err)
	}
	return b
}
