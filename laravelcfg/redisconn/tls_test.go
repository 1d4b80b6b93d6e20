package redisconn

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/reverb-go/reverb/internal/testsvc"
)

// handshake dials a TLS listener serving cert with the client config the
// context options give, and returns the handshake's error.
func handshake(t *testing.T, cert tls.Certificate, host string, ctx map[string]any) error {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() { // owned by this handshake: ends when the listener closes
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.(*tls.Conn).Handshake()
			c.Close()
		}
	}()
	kv := []any{}
	for k, v := range ctx {
		kv = append(kv, k, v)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	d, err := resolveWith(t, "", map[string]any{"default.url": "rediss://" + host + ":" + port, "default.context": arr(kv...)})
	if err != nil {
		t.Fatal(err)
	}
	dialer := &net.Dialer{Timeout: 2 * time.Second}
	c, err := tls.DialWithDialer(dialer, "tcp", d.Addrs[0], d.tlsConfig())
	if err == nil {
		c.Close()
	}
	return err
}

// selfSigned writes a self-signed certificate for name and returns it.
func selfSignedCert(t *testing.T, name string) tls.Certificate {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(9), Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// PHP's verification options over real handshakes: the private CA, a
// name that does not match (verify_peer_name), a self-signed certificate
// (allow_self_signed), no verification (verify_peer).
func TestTLSVerification(t *testing.T) {
	pki := testsvc.NewPKI(t)
	caSigned, err := tls.LoadX509KeyPair(pki.ServerCertFile, pki.ServerKeyFile) // for 127.0.0.1 and localhost
	if err != nil {
		t.Fatal(err)
	}
	self := selfSignedCert(t, "cache.internal")
	capath := t.TempDir()
	pemCA, _ := os.ReadFile(pki.CAFile)
	if err := os.WriteFile(filepath.Join(capath, "ca.pem"), pemCA, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		cert tls.Certificate
		host string
		ctx  map[string]any
		ok   bool
	}{
		{"cafile", caSigned, "127.0.0.1", map[string]any{"cafile": pki.CAFile}, true},
		{"capath", caSigned, "localhost", map[string]any{"capath": capath}, true},
		{"unknown CA (system roots)", caSigned, "127.0.0.1", map[string]any{}, false},
		{"name mismatch", caSigned, "127.0.0.1", map[string]any{"cafile": pki.CAFile, "peer_name": "other.example"}, false},
		{"name mismatch, verify_peer_name off", caSigned, "127.0.0.1", map[string]any{"cafile": pki.CAFile, "peer_name": "other.example", "verify_peer_name": false}, true},
		{"verify_peer_name off still checks the chain", self, "127.0.0.1", map[string]any{"cafile": pki.CAFile, "verify_peer_name": false}, false},
		{"self-signed refused", self, "127.0.0.1", map[string]any{"peer_name": "cache.internal"}, false},
		{"self-signed allowed, name checked", self, "127.0.0.1", map[string]any{"peer_name": "cache.internal", "allow_self_signed": true}, true},
		{"self-signed allowed, wrong name", self, "127.0.0.1", map[string]any{"peer_name": "x.example", "allow_self_signed": true}, false},
		{"verify_peer off", self, "127.0.0.1", map[string]any{"verify_peer": false}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := handshake(t, tc.cert, tc.host, tc.ctx)
			if (err == nil) != tc.ok {
				t.Errorf("handshake error %v, want ok=%v", err, tc.ok)
			}
		})
	}
	// A client certificate from local_cert/local_pk is presented.
	d, err := resolveWith(t, "", map[string]any{"default.scheme": "tls", "default.context": arr("local_cert", pki.ClientCertFile, "local_pk", pki.ClientKeyFile)})
	if err != nil || len(d.TLS.Config.Certificates) != 1 || d.TLS.CertFile != pki.ClientCertFile {
		t.Fatalf("client certificate: %+v, %v", d.TLS, err)
	}
	// An encrypted key is refused with the way out.
	enc := filepath.Join(t.TempDir(), "enc.key")
	_ = os.WriteFile(enc, pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{1, 2, 3}}), 0o600)
	if _, err := resolveWith(t, "", map[string]any{"default.scheme": "tls", "default.context": arr("local_cert", pki.ClientCertFile, "local_pk", enc, "passphrase", "pw")}); err == nil || !errors.Is(err, ErrUnsupported) {
		t.Fatalf("encrypted key: %v", err)
	}
}
