package cachestore

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/reverb-go/reverb/internal/testsvc"
)

// writeTestPKI writes a CA and a server certificate for 127.0.0.1 and
// returns the file paths.
func writeTestPKI(t *testing.T) (caFile, certFile, keyFile string) {
	t.Helper()
	dir := t.TempDir()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "cachestore test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	srvKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	srvTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, ca, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(srvKey)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	return write("ca.pem", "CERTIFICATE", caDER), write("server.pem", "CERTIFICATE", srvDER), write("server.key", "EC PRIVATE KEY", keyDER)
}

// TestOracleRedisTLS: scheme tls with the CA from the phpredis stream
// context; PHP and Go both talk TLS to the same server.
func TestOracleRedisTLS(t *testing.T) {
	requirePHP(t)
	requireExt(t, "redis")
	caFile, certFile, keyFile := writeTestPKI(t)
	port := testsvc.Process(t, "redis-server", func(p int) []string {
		return []string{"--port", "0", "--tls-port", strconv.Itoa(p), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
			"--tls-cert-file", certFile, "--tls-key-file", keyFile, "--tls-ca-cert-file", caFile, "--tls-auth-clients", "no"}
	})
	l := layouts[1]
	stream := arr("cafile", caFile, "verify_peer", true)
	for i, tc := range []struct {
		name string
		ctx  any
	}{
		{"cafile", arr("stream", stream)},
		{"flat context, verify_peer_name off", arr("cafile", caFile, "verify_peer_name", false, "peer_name", "wrong.example")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := with(skeletonConfig(l, base), []string{"cache", "default"}, "redis")
			cfg = with(cfg, []string{"database", "redis", "cache", "port"}, port)
			cfg = with(cfg, []string{"database", "redis", "cache", "scheme"}, "tls")
			cfg = with(cfg, []string{"database", "redis", "cache", "database"}, i+1)
			cfg = with(cfg, []string{"database", "redis", "cache", "context"}, tc.ctx)
			st := openStore(t, project(l, base, cfg))
			interop(t, st, map[string]any{"store": "redis", "host": "127.0.0.1", "port": port, "db": i + 1, "scheme": "tls",
				"context":      map[string]any{"stream": map[string]any{"cafile": caFile, "verify_peer": true}},
				"redis_prefix": "laravel_database_", "prefix": "", "key": "laravel_cache_" + FlagKey},
				fmt.Sprintf("redis tls://127.0.0.1:%d db %d key laravel_database_laravel_cache_laravel:reverb:restart", port, i+1),
				"1732200000", "string")
		})
	}
	t.Run("unknown CA is refused", func(t *testing.T) {
		cfg := with(skeletonConfig(l, base), []string{"cache", "default"}, "redis")
		cfg = with(cfg, []string{"database", "redis", "cache", "url"}, fmt.Sprintf("rediss://127.0.0.1:%d", port))
		st := openStore(t, project(l, base, cfg))
		if _, err := st.Read(t.Context()); err == nil {
			t.Error("Read trusted a certificate from an unknown CA")
		}
	})
}

// TestOracleRedisTLSClientCert: the server demands a client certificate from
// the private CA and an ACL user; the phpredis stream context carries
// cafile, local_cert and local_pk, and both PHP and Go get in.
func TestOracleRedisTLSClientCert(t *testing.T) {
	requirePHP(t)
	requireExt(t, "redis")
	pki := testsvc.NewPKI(t)
	port := testsvc.Process(t, "redis-server", func(p int) []string {
		return []string{"--port", "0", "--tls-port", strconv.Itoa(p), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
			"--tls-cert-file", pki.ServerCertFile, "--tls-key-file", pki.ServerKeyFile, "--tls-ca-cert-file", pki.CAFile,
			"--tls-auth-clients", "yes", "--user", "default", "off", "--user", "cache", "on", ">cache-pw", "~*", "&*", "+@all"}
	})
	l := layouts[1]
	stream := map[string]any{"cafile": pki.CAFile, "local_cert": pki.ClientCertFile, "local_pk": pki.ClientKeyFile, "verify_peer": true}
	cfg := with(skeletonConfig(l, base), []string{"cache", "default"}, "redis")
	cfg = with(cfg, []string{"database", "redis", "cache", "url"}, fmt.Sprintf("rediss://cache:cache-pw@127.0.0.1:%d/3", port))
	cfg = with(cfg, []string{"database", "redis", "cache", "context"}, arr("stream", arr("cafile", pki.CAFile, "local_cert", pki.ClientCertFile, "local_pk", pki.ClientKeyFile)))
	st := openStore(t, project(l, base, cfg))
	interop(t, st, map[string]any{"store": "redis", "host": "127.0.0.1", "port": port, "db": 3, "scheme": "tls",
		"username": "cache", "password": "cache-pw", "context": map[string]any{"stream": stream},
		"redis_prefix": "laravel_database_", "prefix": "", "key": "laravel_cache_" + FlagKey},
		fmt.Sprintf("redis tls://127.0.0.1:%d db 3 key laravel_database_laravel_cache_laravel:reverb:restart", port),
		"1732200000", "string")

	t.Run("without the client certificate", func(t *testing.T) {
		cfg := with(cfg, []string{"database", "redis", "cache", "context"}, arr("stream", arr("cafile", pki.CAFile)))
		st := openStore(t, project(l, base, cfg))
		if _, err := st.Read(t.Context()); err == nil {
			t.Error("Read got in without a client certificate")
		}
	})
}
