package tlsrec

import (
	"bytes"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"io"
	"net"
)

// hsConn is the net.Conn under crypto/tls during the handshake. Its Read
// never returns bytes past the end of the current record (first the 5-byte
// header, then at most the rest of that record), so crypto/tls holds
// nothing it has not processed when the handshake returns. It keeps a copy
// of what the server writes, to count the records already sent under the
// application key, and receives the traffic secrets through the
// per-connection KeyLogWriter. After a handshake that stays on crypto/tls
// it passes everything through.
type hsConn struct {
	net.Conn
	hdr  [recordHeaderLen]byte
	hdrN int
	left int // body bytes of the current record not yet read

	sent []byte // what the server wrote during the handshake

	clientSecret, serverSecret []byte
	next                       io.Writer // the Config's own KeyLogWriter, if any

	passthrough bool
	got         bool // a byte came from the client
}

func (h *hsConn) Read(b []byte) (int, error) {
	if h.passthrough || len(b) == 0 {
		return h.Conn.Read(b)
	}
	if h.hdrN == recordHeaderLen && h.left == 0 {
		h.hdrN = 0
	}
	if h.hdrN < recordHeaderLen {
		n, err := h.Conn.Read(b[:min(len(b), recordHeaderLen-h.hdrN)])
		h.got = h.got || n > 0
		copy(h.hdr[h.hdrN:], b[:n])
		h.hdrN += n
		if h.hdrN == recordHeaderLen {
			h.left = bodyLen(h.hdr[:])
		}
		return n, err
	}
	n, err := h.Conn.Read(b[:min(len(b), h.left)])
	h.left -= n
	return n, err
}

func (h *hsConn) Write(b []byte) (int, error) {
	if !h.passthrough {
		h.sent = append(h.sent, b...)
	}
	return h.Conn.Write(b)
}

// atBoundary reports whether every byte read so far belongs to a record
// read whole.
func (h *hsConn) atBoundary() bool {
	return h.left == 0 && (h.hdrN == 0 || h.hdrN == recordHeaderLen)
}

// keyLog is the KeyLogWriter of one handshake: it keeps the two
// application traffic secrets (NSS key log lines "LABEL <client random>
// <secret>", written by crypto/tls on the handshake's goroutine).
type keyLog struct{ h *hsConn }

func (k keyLog) Write(line []byte) (int, error) {
	label, rest, _ := bytes.Cut(bytes.TrimSpace(line), []byte{' '})
	_, secretHex, _ := bytes.Cut(rest, []byte{' '})
	var dst *[]byte
	switch string(label) {
	case "CLIENT_TRAFFIC_SECRET_0":
		dst = &k.h.clientSecret
	case "SERVER_TRAFFIC_SECRET_0":
		dst = &k.h.serverSecret
	}
	if dst != nil {
		secret := make([]byte, hex.DecodedLen(len(secretHex)))
		if _, err := hex.Decode(secret, secretHex); err == nil {
			*dst = secret
		}
	}
	if k.h.next != nil {
		return k.h.next.Write(line)
	}
	return len(line), nil
}

// errNoSession says why a TLS 1.3 handshake stays on crypto/tls; it never
// reaches a client.
var errNoSession = errors.New("tlsrec: handshake state not accounted for")

// session builds the record layer after a TLS 1.3 handshake: the client's
// sequence number is 0 (crypto/tls read nothing after its Finished, and
// hsConn proves no partial record is buffered), the server's is the number
// of NewSessionTicket records it sent under its application key.
func (h *hsConn) session(suiteID uint16) (*Session, error) {
	if !h.atBoundary() || h.clientSecret == nil || h.serverSecret == nil {
		return nil, errNoSession
	}
	s, err := NewSession(suiteID, h.clientSecret, 0, h.serverSecret, 0)
	if err != nil {
		return nil, err
	}
	if s.out.seq, err = countAppRecords(&s.out, h.sent); err != nil {
		return nil, err
	}
	return s, nil
}

// countAppRecords finds, among the records the server wrote during the
// handshake, those protected with its application traffic key: from the
// first one that opens with sequence number 0, every later record must open
// with the next number and hold a NewSessionTicket, or the state is unknown.
// h is the server's write half at sequence number 0 (left there); sent is
// decrypted in place.
func countAppRecords(out *half, sent []byte) (uint64, error) {
	h := *out
	found := false
	for len(sent) >= recordHeaderLen {
		n := recordHeaderLen + bodyLen(sent)
		if n > len(sent) {
			return 0, errNoSession
		}
		rec := sent[:n]
		sent = sent[n:]
		if rec[0] != typeApplicationData {
			if found {
				return 0, errNoSession
			}
			continue
		}
		nonce := h.nonce()
		plain, err := h.aead.Open(rec[recordHeaderLen:recordHeaderLen], nonce, rec[recordHeaderLen:], rec[:recordHeaderLen])
		if err != nil {
			if found {
				return 0, errNoSession
			}
			continue // a handshake-key record
		}
		found = true
		h.seq++
		plain = bytes.TrimRight(plain, "\x00")
		if len(plain) < 2 || plain[len(plain)-1] != typeHandshake || plain[0] != msgNewSessionTicket {
			return 0, errNoSession
		}
	}
	if len(sent) != 0 {
		return 0, errNoSession
	}
	return h.seq, nil
}

// configFor is the GetConfigForClient of the listener's Config: a clone
// whose KeyLogWriter hands this connection its secrets. Session tickets
// stay those of the shared Config (crypto/tls uses the original's keys
// when the clone sets none).
func configFor(base *tls.Config) func(*tls.ClientHelloInfo) (*tls.Config, error) {
	userHook := base.GetConfigForClient
	return func(hi *tls.ClientHelloInfo) (*tls.Config, error) {
		cfg := base
		if userHook != nil {
			c, err := userHook(hi)
			if err != nil {
				return nil, err
			}
			if c != nil {
				cfg = c
			}
		}
		h, ok := hi.Conn.(*hsConn)
		if !ok || !offersTLS13(hi) || cfg.MaxVersion != 0 && cfg.MaxVersion < tls.VersionTLS13 {
			if cfg == base {
				return nil, nil
			}
			return cfg, nil
		}
		clone := cfg.Clone()
		clone.GetConfigForClient = nil
		h.next = cfg.KeyLogWriter
		clone.KeyLogWriter = keyLog{h}
		return clone, nil
	}
}

func offersTLS13(hi *tls.ClientHelloInfo) bool {
	for _, v := range hi.SupportedVersions {
		if v == tls.VersionTLS13 {
			return true
		}
	}
	return false
}
