package redis

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/reverb-go/reverb/laravelcfg"
)

// testCA writes a CA and a 127.0.0.1 server certificate into dir.
func testCA(t *testing.T, dir string) (caFile, certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "reverb test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	write := func(name, typ string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	pool = x509.NewCertPool()
	pool.AddCert(ca)
	return write("ca.pem", "CERTIFICATE", caDER), write("cert.pem", "CERTIFICATE", der), write("key.pem", "EC PRIVATE KEY", keyDER), pool
}

// rediss:// reaches a TLS-only redis-server.
func TestTLS(t *testing.T) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("redis-server not installed (CI installs it)")
	}
	dir := t.TempDir()
	caFile, certFile, keyFile, pool := testCA(t, dir)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command("redis-server", "--port", "0", "--tls-port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--tls-cert-file", certFile, "--tls-key-file", keyFile, "--tls-ca-cert-file", caFile,
		"--tls-auth-clients", "no", "--save", "", "--appendonly", "no")
	var out strings.Builder
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := tls.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port), &tls.Config{RootCAs: pool})
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			if strings.Contains(out.String(), "TLS") || strings.Contains(out.String(), "tls") {
				t.Skipf("redis-server without TLS support: %s", out.String())
			}
			t.Fatalf("TLS redis-server not up: %v\n%s", err, out.String())
		}
		time.Sleep(30 * time.Millisecond)
	}

	s := newSink()
	srv := laravelcfg.RedisServer{URL: "rediss://127.0.0.1:" + strconv.Itoa(port)}
	tr, err := New(Options{Server: srv, TLSConfig: &tls.Config{RootCAs: pool}, StartWait: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	if !tr.Endpoint().TLS {
		t.Fatal("rediss:// did not select TLS")
	}
	if err := tr.Start(context.Background(), s.deliver); err != nil {
		t.Fatal(err)
	}
	n, err := tr.Publish(context.Background(), []byte("over tls"))
	if err != nil || n != 1 {
		t.Fatalf("Publish = %d, %v", n, err)
	}
	s.expect(t, "over tls")

	// Without the CA the certificate is refused, and the log says so.
	log := &syncBuffer{}
	bad, err := New(Options{Server: laravelcfg.RedisServer{Host: "127.0.0.1", Port: strconv.Itoa(port), Scheme: "tls"}, Log: log, StartWait: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	_ = bad.Start(context.Background(), func([]byte) {})
	waitFor(t, "a certificate error in the log", func() bool { return strings.Contains(log.String(), "certificate") })
}
