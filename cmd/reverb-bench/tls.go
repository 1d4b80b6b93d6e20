package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// benchTLS serves and connects over TLS (-tls, and the tls scenario): the
// app gets a self-signed certificate in options.tls, the API and the
// client processes dial https/wss. Go clients negotiate TLS 1.3 with
// AES-128-GCM on CPUs with AES instructions, as browsers do.
var benchTLS bool

// clientTLS is what the bench's clients use: the certificate is the
// bench's own, so it is not verified.
var clientTLS = &tls.Config{InsecureSkipVerify: true}

func scheme() string {
	if benchTLS {
		return "https"
	}
	return "http"
}

// enableTLS writes a certificate for 127.0.0.1 into the app copy and points
// options.tls of its config/reverb.php at it.
func enableTLS(dir string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "reverb-bench"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(30 * 24 * time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	cert, pk := filepath.Join(dir, "bench.crt"), filepath.Join(dir, "bench.key")
	if err := os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(pk, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return err
	}
	conf := filepath.Join(dir, "config", "reverb.php")
	b, err := os.ReadFile(conf)
	if err != nil {
		return err
	}
	const empty = "'tls' => [],"
	if !strings.Contains(string(b), empty) {
		return fmt.Errorf("%s: no %q to fill in", conf, empty)
	}
	tlsOpts := fmt.Sprintf("'tls' => ['local_cert' => %q, 'local_pk' => %q, 'verify_peer' => false],", cert, pk)
	return os.WriteFile(conf, []byte(strings.Replace(string(b), empty, tlsOpts, 1)), 0o644)
}

// tlsScenario measures what TLS costs over plain sockets in one run: memory
// per idle subscribed connection at 10,000 and server CPU per delivery at
// 1,000 subscribers × 100 events/s, each plain then over TLS. Both use the
// goroutine client reader (TLS sockets cannot use the epoll one), so the
// clients read at the same pace and the server coalesces alike.
func tlsScenario(cfg config) error {
	n, subs, dur := 10000, 1000, 10*time.Second
	if cfg.quick {
		n, dur = 2000, 3*time.Second
	}
	saved, savedReader := benchTLS, goroutineClient
	defer func() { benchTLS, goroutineClient = saved, savedReader }()
	goroutineClient = true
	var mem, cpu [2]float64
	for i, secure := range []bool{false, true} {
		benchTLS = secure
		name := map[bool]string{false: "plain", true: "TLS"}[secure]
		if err := withServer(cfg, cfg.workers, 2, func(a *benchApp, srv *runningServer, pool clientPool) error {
			var err error
			mem[i], err = idleRun(srv, pool, n, name+": ")
			return err
		}); err != nil {
			return err
		}
		if err := withServer(cfg, cfg.workers, 2, func(a *benchApp, srv *runningServer, pool clientPool) error {
			fmt.Printf("   %s:\n", name)
			var err error
			cpu[i], err = fanoutRun(cfg, a, srv, pool, subs, 100, dur, nil, nil)
			return err
		}); err != nil {
			return err
		}
	}
	figure(fmt.Sprintf("TLS: memory per idle subscribed conn (%d)", n), mem[1], "KiB", le(6))
	figure("TLS: memory over plain", mem[1]-mem[0], "KiB", nil)
	if cpu[0] > 0 {
		figure(fmt.Sprintf("TLS: CPU per delivery (%d × 100/s) / plain", subs), cpu[1]/cpu[0], "×", le(1.5))
	}
	return nil
}
