package tlsrec

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"errors"
	"hash"

	"golang.org/x/crypto/chacha20poly1305"
)

// suite is one TLS 1.3 cipher suite: the AEAD and the hash of its key
// schedule.
type suite struct {
	id      uint16
	keyLen  int
	hashLen int
	hash    func() hash.Hash
	newAEAD func(key []byte) (cipher.AEAD, error)
}

var suites = [...]suite{
	{tls.TLS_AES_128_GCM_SHA256, 16, sha256.Size, sha256.New, newGCM},
	{tls.TLS_AES_256_GCM_SHA384, 32, sha512.Size384, sha512.New384, newGCM},
	{tls.TLS_CHACHA20_POLY1305_SHA256, chacha20poly1305.KeySize, sha256.Size, sha256.New, chacha20poly1305.New},
}

func suiteByID(id uint16) *suite {
	for i := range suites {
		if suites[i].id == id {
			return &suites[i]
		}
	}
	return nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

// expandLabel is HKDF-Expand-Label with an empty context (RFC 8446 §7.1),
// the only form the record layer needs: "key", "iv", "traffic upd".
func (s *suite) expandLabel(secret []byte, label string, length int) ([]byte, error) {
	var info [2 + 1 + 6 + 12 + 1]byte
	b := append(info[:0], byte(length>>8), byte(length), byte(6+len(label)))
	b = append(b, "tls13 "...)
	b = append(b, label...)
	b = append(b, 0) // empty context
	return hkdf.Expand(s.hash, secret, string(b), length)
}

const ivLen = 12

// half is one direction's protection: the AEAD and IV derived from the
// current traffic secret, the record sequence number, and the secret itself
// (the next one after a KeyUpdate is derived from it). The AEAD may be
// dropped while unused (rest) and is rebuilt from key on next use.
type half struct {
	aead   cipher.AEAD // nil while resting
	seq    uint64
	iv     [ivLen]byte
	nbuf   [ivLen]byte // the current nonce (a field: passed to the AEAD, a local would escape)
	slen   uint8
	klen   uint8
	secret [48]byte
	key    [32]byte
}

var errSecretLen = errors.New("tlsrec: traffic secret has the wrong length for the cipher suite")

// set installs a traffic secret and starts its sequence numbers at 0.
func (h *half) set(s *suite, secret []byte) error {
	if len(secret) != s.hashLen {
		return errSecretLen
	}
	key, err := s.expandLabel(secret, "key", s.keyLen)
	if err != nil {
		return err
	}
	iv, err := s.expandLabel(secret, "iv", ivLen)
	if err != nil {
		return err
	}
	aead, err := s.newAEAD(key)
	if err != nil {
		return err
	}
	h.aead = aead
	h.seq = 0
	copy(h.iv[:], iv)
	h.slen = uint8(copy(h.secret[:], secret))
	h.klen = uint8(copy(h.key[:], key))
	return nil
}

// cipher is the AEAD, rebuilt if it was resting.
func (h *half) cipher(s *suite) (cipher.AEAD, error) {
	if h.aead == nil {
		aead, err := s.newAEAD(h.key[:h.klen])
		if err != nil {
			return nil, err
		}
		h.aead = aead
	}
	return h.aead, nil
}

// rest drops the AEAD (an AES-GCM instance holds ~770 bytes: key schedule
// and GHASH table); cipher rebuilds it from key.
func (h *half) rest() { h.aead = nil }

// update moves to the next traffic secret (RFC 8446 §7.2).
func (h *half) update(s *suite) error {
	next, err := s.expandLabel(h.secret[:h.slen], "traffic upd", s.hashLen)
	if err != nil {
		return err
	}
	return h.set(s, next)
}

// nonce is the per-record nonce: the IV XOR the sequence number, left-padded
// (RFC 8446 §5.3).
func (h *half) nonce() []byte {
	h.nbuf = h.iv
	for i := 0; i < 8; i++ {
		h.nbuf[ivLen-1-i] ^= byte(h.seq >> (8 * i))
	}
	return h.nbuf[:]
}
