package tlsconf

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// ErrWrongPassphrase is wrapped when an encrypted key does not decrypt.
var ErrWrongPassphrase = errors.New("wrong passphrase")

// loadKeyPair reads the chain from certFile and the key from keyFile, or from
// certFile when keyFile is empty (PHP's local_cert may hold both).
func loadKeyPair(certFile, keyFile, passphrase string) (tls.Certificate, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("tls: local_cert: %w", err)
	}
	var chain [][]byte
	var keyBlock *pem.Block
	for rest := certPEM; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		switch {
		case b.Type == "CERTIFICATE":
			chain = append(chain, b.Bytes)
		case strings.HasSuffix(b.Type, "PRIVATE KEY") && keyBlock == nil:
			keyBlock = b
		}
	}
	if len(chain) == 0 {
		return tls.Certificate{}, fmt.Errorf("tls: local_cert %s: %w", certFile, ErrNoCertificate)
	}
	leaf, err := x509.ParseCertificate(chain[0])
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("tls: local_cert %s: first certificate: %v", certFile, err)
	}

	keyFrom := certFile
	if keyFile != "" {
		keyFrom = keyFile
		keyPEM, err := os.ReadFile(keyFile)
		if err != nil {
			return tls.Certificate{}, fmt.Errorf("tls: local_pk: %w", err)
		}
		keyBlock = nil
		for rest := keyPEM; ; {
			var b *pem.Block
			b, rest = pem.Decode(rest)
			if b == nil {
				break
			}
			if strings.HasSuffix(b.Type, "PRIVATE KEY") {
				keyBlock = b
				break
			}
		}
		if keyBlock == nil {
			return tls.Certificate{}, fmt.Errorf("tls: local_pk %s: no PEM private key found", keyFile)
		}
	} else if keyBlock == nil {
		return tls.Certificate{}, fmt.Errorf("tls: local_cert %s holds no private key and local_pk is not set", certFile)
	}

	key, err := parsePrivateKey(keyBlock, passphrase)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("tls: private key in %s: %w", keyFrom, err)
	}
	pub, ok := leaf.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(key.Public()) {
		return tls.Certificate{}, fmt.Errorf("tls: private key in %s does not match the certificate in %s", keyFrom, certFile)
	}
	return tls.Certificate{Certificate: chain, PrivateKey: key, Leaf: leaf}, nil
}

// parsePrivateKey decodes a PEM key block, decrypting it with passphrase
// when it is encrypted.
func parsePrivateKey(b *pem.Block, passphrase string) (crypto.Signer, error) {
	der := b.Bytes
	switch {
	case b.Type == "ENCRYPTED PRIVATE KEY":
		if passphrase == "" {
			return nil, errors.New("the key is encrypted (PKCS#8) and options.tls.passphrase is not set")
		}
		var err error
		if der, err = decryptPKCS8(der, []byte(passphrase)); err != nil {
			return nil, err
		}
	//lint:ignore SA1019 legacy encrypted PEM keys are what older openssl and Valet produce; PHP reads them.
	case x509.IsEncryptedPEMBlock(b): //nolint:staticcheck
		if passphrase == "" {
			return nil, errors.New("the key is encrypted (Proc-Type: 4,ENCRYPTED) and options.tls.passphrase is not set")
		}
		var err error
		//lint:ignore SA1019 see above.
		der, err = x509.DecryptPEMBlock(b, []byte(passphrase)) //nolint:staticcheck
		if err != nil {
			return nil, fmt.Errorf("cannot decrypt the key: %w", ErrWrongPassphrase)
		}
	}
	key, err := parseDERKey(der)
	if err != nil {
		if der != nil && (b.Type == "ENCRYPTED PRIVATE KEY" || b.Headers["Proc-Type"] != "") {
			// Legacy CBC decryption of a wrong passphrase often "succeeds"
			// with garbage that only fails here.
			return nil, fmt.Errorf("cannot decrypt the key: %w", ErrWrongPassphrase)
		}
		return nil, err
	}
	return key, nil
}

func parseDERKey(der []byte) (crypto.Signer, error) {
	if k, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		switch k := k.(type) {
		case *rsa.PrivateKey:
			return k, nil
		case *ecdsa.PrivateKey:
			return k, nil
		case ed25519.PrivateKey:
			return k, nil
		default:
			return nil, fmt.Errorf("unsupported private key type %T", k)
		}
	}
	if k, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		return k, nil
	}
	if k, err := x509.ParseECPrivateKey(der); err == nil {
		return k, nil
	}
	return nil, errors.New("not a PKCS#8, PKCS#1 or EC private key")
}

// loadCAs builds the client CA pool from cafile (one PEM bundle) and capath
// (every file in the folder that holds PEM certificates, as OpenSSL's hashed
// capath folders do).
func loadCAs(cafile, capath string) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	if cafile != "" {
		b, err := os.ReadFile(cafile)
		if err != nil {
			return nil, fmt.Errorf("tls: cafile: %w", err)
		}
		if !pool.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("tls: cafile %s: %w", cafile, ErrNoCertificate)
		}
	}
	if capath != "" {
		entries, err := os.ReadDir(capath)
		if err != nil {
			return nil, fmt.Errorf("tls: capath: %w", err)
		}
		found := false
		for _, e := range entries {
			if e.IsDir() {
				continue
			}
			b, err := os.ReadFile(filepath.Join(capath, e.Name()))
			if err != nil {
				continue // unreadable strays do not stop the others, as in OpenSSL
			}
			if pool.AppendCertsFromPEM(b) {
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("tls: capath %s: %w in any file", capath, ErrNoCertificate)
		}
	}
	return pool, nil
}
