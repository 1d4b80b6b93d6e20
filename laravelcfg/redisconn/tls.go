package redisconn

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/reverb-go/reverb/laravelcfg/internal/cfgtree"
)

// buildTLS turns PHP SSL context options (phpredis' context stream
// options, predis' 'ssl') into a client TLS configuration with PHP's
// defaults: verify_peer and verify_peer_name on, the system CAs unless
// cafile/capath, the dialled host as the peer name unless peer_name.
//
//	cafile, capath        the CAs the server certificate must chain to
//	local_cert, local_pk  the client certificate (the key may sit in local_cert)
//	verify_peer false     no verification at all
//	verify_peer_name false the chain is verified, the name is not
//	allow_self_signed     a self-signed server certificate is accepted
//	peer_name             the name to verify (and send as SNI)
//
// passphrase (an encrypted client key) is refused: decrypt the key file.
// Other options (ciphers, SNI_enabled, ...) keep Go's defaults.
func buildTLS(ssl cfgtree.Node, host string) (*TLS, error) {
	t := &TLS{PeerName: host, VerifyPeer: true, VerifyPeerName: true}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	t.Config = cfg
	if ssl.Arr == nil {
		return t, nil
	}
	str := func(k string) (string, error) {
		v, ok := ssl.Get(k)
		if !ok || cfgtree.Empty(v) {
			return "", nil
		}
		return cfgtree.String(v, ssl.KeyPath(k))
	}
	flag := func(k string, def bool) bool {
		v, ok := ssl.Get(k)
		if !ok || v.IsNull() || v.IsUnknown() {
			return def
		}
		return v.ToBool()
	}
	var err error
	if t.PeerName, err = str("peer_name"); err != nil {
		return nil, err
	}
	if t.PeerName != "" {
		cfg.ServerName = t.PeerName
	} else {
		t.PeerName = host
	}
	t.VerifyPeer = flag("verify_peer", true)
	t.VerifyPeerName = flag("verify_peer_name", true)
	t.AllowSelfSigned = flag("allow_self_signed", false)
	if t.CAFile, err = str("cafile"); err != nil {
		return nil, err
	}
	if t.CAPath, err = str("capath"); err != nil {
		return nil, err
	}
	if t.CAFile != "" || t.CAPath != "" {
		if cfg.RootCAs, err = loadCAs(ssl, t.CAFile, t.CAPath); err != nil {
			return nil, err
		}
	}
	if t.CertFile, err = str("local_cert"); err != nil {
		return nil, err
	}
	if t.KeyFile, err = str("local_pk"); err != nil {
		return nil, err
	}
	if t.CertFile != "" {
		key := t.KeyFile
		if key == "" {
			key = t.CertFile // PHP allows the key inside the local_cert PEM
		}
		pair, err := tls.LoadX509KeyPair(t.CertFile, key)
		if err != nil {
			if pass, _ := str("passphrase"); pass != "" {
				return nil, fmt.Errorf("config %s.local_pk: %w: encrypted client keys (passphrase) are not read for Redis; store the key decrypted (openssl pkey -in key.pem -out plain.pem): %v", ssl.Path, ErrUnsupported, err)
			}
			return nil, fmt.Errorf("config %s.local_cert: %w", ssl.Path, err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	switch {
	case !t.VerifyPeer:
		cfg.InsecureSkipVerify = true
	case !t.VerifyPeerName || t.AllowSelfSigned:
		// Go verifies chain and name together; PHP can relax each: verify
		// by hand after the handshake.
		cfg.InsecureSkipVerify = true
		roots, checkName, selfSigned := cfg.RootCAs, t.VerifyPeerName, t.AllowSelfSigned
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			return verifyPeer(cs, roots, checkName, selfSigned)
		}
	}
	return t, nil
}

// verifyPeer checks the server's chain against roots (nil: the system
// CAs), a self-signed leaf when allowed, and the host name when checkName.
func verifyPeer(cs tls.ConnectionState, roots *x509.CertPool, checkName, allowSelfSigned bool) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("redis TLS: the server sent no certificate")
	}
	leaf := cs.PeerCertificates[0]
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	_, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter})
	if err != nil && allowSelfSigned && selfSigned(leaf) {
		err = nil
	}
	if err != nil {
		return err
	}
	if checkName {
		return leaf.VerifyHostname(cs.ServerName)
	}
	return nil
}

// selfSigned reports whether c is its own issuer and signed by its own
// key (OpenSSL's "self-signed certificate" that allow_self_signed accepts;
// it need not be a CA certificate).
func selfSigned(c *x509.Certificate) bool {
	return bytes.Equal(c.RawIssuer, c.RawSubject) && c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature) == nil
}

// loadCAs reads cafile and every PEM certificate file in capath.
func loadCAs(ssl cfgtree.Node, cafile, capath string) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	if cafile != "" {
		pem, err := os.ReadFile(cafile)
		if err != nil {
			return nil, fmt.Errorf("config %s.cafile: %w", ssl.Path, err)
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("config %s.cafile: %s holds no PEM certificate", ssl.Path, cafile)
		}
	}
	if capath != "" {
		entries, err := os.ReadDir(capath)
		if err != nil {
			return nil, fmt.Errorf("config %s.capath: %w", ssl.Path, err)
		}
		for _, e := range entries {
			if e.IsDir() {
				continue
			}
			if pem, err := os.ReadFile(filepath.Join(capath, e.Name())); err == nil {
				pool.AppendCertsFromPEM(pem)
			}
		}
	}
	return pool, nil
}
