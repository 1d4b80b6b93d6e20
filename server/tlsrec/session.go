package tlsrec

import (
	"crypto/cipher"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
)

// Record layer limits and content types (RFC 8446 §5).
const (
	recordHeaderLen = 5
	// MaxPlaintext is the most application data one record carries.
	MaxPlaintext = 1 << 14
	// maxCiphertext bounds a TLS 1.3 record body: 2^14 + 256.
	maxCiphertext = MaxPlaintext + 256

	typeChangeCipherSpec = 20
	typeAlert            = 21
	typeHandshake        = 22
	typeApplicationData  = 23

	msgNewSessionTicket = 4
	msgKeyUpdate        = 24

	// maxUselessRecords bounds consecutive records that carry no
	// application data (KeyUpdate, empty records, user_canceled), as
	// crypto/tls does.
	maxUselessRecords = 16
)

// rekeyAfter is how many records one write key seals before the Session
// moves to the next one on its own, well inside AES-GCM's limit of 2^24.5
// full-size records per key (RFC 8446 §5.5). A variable for tests.
var rekeyAfter uint64 = 1 << 24

// Alert is a TLS alert description (RFC 8446 §6).
type Alert uint8

// The alerts this package sends or recognises.
const (
	AlertCloseNotify       Alert = 0
	AlertUnexpectedMessage Alert = 10
	AlertBadRecordMAC      Alert = 20
	AlertRecordOverflow    Alert = 22
	AlertIllegalParameter  Alert = 47
	AlertDecodeError       Alert = 50
	AlertProtocolVersion   Alert = 70
	AlertInternalError     Alert = 80
	AlertUserCanceled      Alert = 90
)

var alertNames = map[Alert]string{
	AlertCloseNotify:       "close_notify",
	AlertUnexpectedMessage: "unexpected_message",
	AlertBadRecordMAC:      "bad_record_mac",
	AlertRecordOverflow:    "record_overflow",
	AlertIllegalParameter:  "illegal_parameter",
	AlertDecodeError:       "decode_error",
	AlertProtocolVersion:   "protocol_version",
	AlertInternalError:     "internal_error",
	AlertUserCanceled:      "user_canceled",
	40:                     "handshake_failure",
	42:                     "bad_certificate",
	46:                     "certificate_unknown",
	48:                     "unknown_ca",
	51:                     "decrypt_error",
}

func (a Alert) String() string {
	if s, ok := alertNames[a]; ok {
		return s
	}
	return "alert(" + strconv.Itoa(int(a)) + ")"
}

// ProtocolError is a peer's breach of the record protocol: the caller
// sends Alert (AppendAlert) and closes the connection.
type ProtocolError struct {
	Alert  Alert
	Reason string
}

func (e *ProtocolError) Error() string {
	return "tls: " + e.Reason + " (" + e.Alert.String() + ")"
}

// RemoteAlertError is a fatal alert the peer sent; the connection is over.
type RemoteAlertError struct{ Alert Alert }

func (e *RemoteAlertError) Error() string { return "tls: peer sent alert " + e.Alert.String() }

// ErrCloseNotify means the peer closed its side in order (close_notify).
var ErrCloseNotify = errors.New("tls: peer sent close_notify")

// Bits of Session.owed: work the reader asks of the writer.
const (
	owedKeyUpdate = 1 << iota // send a KeyUpdate before the next record
	owedRequest               // ... with update_requested
)

// partPool holds buffers for a record that spans reads (header + the
// largest body).
var partPool = sync.Pool{New: func() any {
	b := make([]byte, 0, recordHeaderLen+maxCiphertext)
	return &b
}}

// Session is one connection's TLS 1.3 record layer after the handshake.
// See the package documentation for which goroutine owns what.
type Session struct {
	suite *suite

	// Read half: owned by the reader.
	in      half
	part    *[]byte // an incomplete record, from partPool; nil at a boundary
	err     error   // sticky: the stream is over
	hsLen   uint8   // bytes of a KeyUpdate split across records, in hsFrag
	useless uint8   // consecutive records without application data
	hsFrag  [5]byte

	// Write half: owned by the writer.
	out half

	owed atomic.Uint32
}

// NewSession is the record layer for a TLS 1.3 connection whose handshake
// negotiated suiteID: readSecret protects what the peer sends (its traffic
// secret, sequence number readSeq), writeSecret what this side sends
// (sequence number writeSeq). A server passes the client's application
// traffic secret first.
func NewSession(suiteID uint16, readSecret []byte, readSeq uint64, writeSecret []byte, writeSeq uint64) (*Session, error) {
	st := suiteByID(suiteID)
	if st == nil {
		return nil, errors.New("tlsrec: cipher suite " + strconv.Itoa(int(suiteID)) + " is not a TLS 1.3 suite")
	}
	s := &Session{suite: st}
	if err := s.in.set(st, readSecret); err != nil {
		return nil, err
	}
	if err := s.out.set(st, writeSecret); err != nil {
		return nil, err
	}
	s.in.seq, s.out.seq = readSeq, writeSeq
	return s, nil
}

// MoveTo moves the session into dst, a zero Session that its new owner
// allocated where it wants the state to live (next to its own connection
// state, rather than among the handshake's garbage); s must not be used
// afterwards. Neither half may be in use meanwhile.
func (s *Session) MoveTo(dst *Session) {
	dst.suite = s.suite
	dst.in, dst.out = s.in, s.out
	dst.part, s.part = s.part, nil
	dst.err = s.err
	dst.hsLen, dst.useless, dst.hsFrag = s.hsLen, s.useless, s.hsFrag
	dst.owed.Store(s.owed.Load())
}

// Overhead is what one record adds to its plaintext: header, content type
// and AEAD tag (16 bytes for all three suites).
func (s *Session) Overhead() int { return recordHeaderLen + 1 + tagLen }

const tagLen = 16

// Feed decrypts the records in raw (in place: raw is overwritten) and calls
// deliver with each record's application data, which is only valid during
// the call. A record cut short at the end of raw is kept until the next
// Feed. A non-nil error ends the stream and is returned again by every
// later call: ErrCloseNotify, *RemoteAlertError, *ProtocolError (send its
// alert), or the error deliver returned.
func (s *Session) Feed(raw []byte, deliver func(plaintext []byte) error) error {
	if s.err != nil {
		return s.err
	}
	if err := s.feed(raw, deliver); err != nil {
		s.err = err
		s.dropPart()
		return err
	}
	return nil
}

func (s *Session) feed(raw []byte, deliver func([]byte) error) error {
	if s.part != nil {
		p := *s.part
		if len(p) < recordHeaderLen {
			k := min(recordHeaderLen-len(p), len(raw))
			p = append(p, raw[:k]...)
			raw = raw[k:]
			if err := checkHeader(p); err != nil {
				return err
			}
			if len(p) < recordHeaderLen {
				*s.part = p
				return nil
			}
		}
		total := recordHeaderLen + bodyLen(p)
		k := min(total-len(p), len(raw))
		p = append(p, raw[:k]...)
		raw = raw[k:]
		*s.part = p
		if len(p) < total {
			return nil
		}
		err := s.open(p, deliver)
		s.dropPart()
		if err != nil {
			return err
		}
	}
	for len(raw) > 0 {
		if err := checkHeader(raw); err != nil {
			return err
		}
		if len(raw) < recordHeaderLen {
			break
		}
		total := recordHeaderLen + bodyLen(raw)
		if len(raw) < total {
			break
		}
		if err := s.open(raw[:total], deliver); err != nil {
			return err
		}
		raw = raw[total:]
	}
	if len(raw) > 0 {
		s.part = partPool.Get().(*[]byte)
		*s.part = append((*s.part)[:0], raw...)
	}
	return nil
}

func (s *Session) dropPart() {
	if s.part != nil {
		*s.part = (*s.part)[:0]
		partPool.Put(s.part)
		s.part = nil
	}
}

// Pending reports whether a record is partly received.
func (s *Session) Pending() bool { return s.part != nil }

// Rest lets the read key's AEAD go until the next Feed rebuilds it (about
// a microsecond for AES-GCM): a reader calls it when a burst of input is
// over, so an idle connection holds no AEAD for reading. Read half.
func (s *Session) Rest() { s.in.rest() }

// checkHeader validates as much of a record header as h holds, so garbage
// is refused at its first bytes rather than after a body that never comes.
func checkHeader(h []byte) error {
	if len(h) > 0 && h[0] != typeApplicationData {
		if h[0] == typeChangeCipherSpec || h[0] == typeAlert || h[0] == typeHandshake {
			return &ProtocolError{AlertUnexpectedMessage, "unprotected record of type " + strconv.Itoa(int(h[0])) + " after the handshake"}
		}
		return &ProtocolError{AlertUnexpectedMessage, "record of unknown type " + strconv.Itoa(int(h[0]))}
	}
	if len(h) > 1 && h[1] != 3 || len(h) > 2 && h[2] != 3 {
		return &ProtocolError{AlertProtocolVersion, "record version is not 0x0303"}
	}
	if len(h) >= recordHeaderLen && bodyLen(h) > maxCiphertext {
		return &ProtocolError{AlertRecordOverflow, "record of " + strconv.Itoa(bodyLen(h)) + " bytes exceeds 2^14+256"}
	}
	return nil
}

func bodyLen(h []byte) int { return int(h[3])<<8 | int(h[4]) }

// open decrypts one whole record in place and acts on its content.
func (s *Session) open(rec []byte, deliver func([]byte) error) error {
	hdr, body := rec[:recordHeaderLen], rec[recordHeaderLen:]
	aead, err := s.in.cipher(s.suite)
	if err != nil {
		return &ProtocolError{AlertInternalError, err.Error()}
	}
	nonce := s.in.nonce()
	plain, err := aead.Open(body[:0], nonce, body, hdr)
	if err != nil {
		return &ProtocolError{AlertBadRecordMAC, "record authentication failed"}
	}
	s.in.seq++
	if len(plain) > MaxPlaintext+1 {
		return &ProtocolError{AlertRecordOverflow, "record plaintext exceeds 2^14 bytes"}
	}
	// The content type is the last non-zero byte; zeros after it are
	// padding (RFC 8446 §5.4).
	i := len(plain) - 1
	for i >= 0 && plain[i] == 0 {
		i--
	}
	if i < 0 {
		return &ProtocolError{AlertUnexpectedMessage, "record without a content type"}
	}
	typ := plain[i]
	plain = plain[:i]
	if s.hsLen > 0 && typ != typeHandshake {
		return &ProtocolError{AlertUnexpectedMessage, "handshake message interleaved with another record type"}
	}
	if typ != typeApplicationData || len(plain) == 0 {
		s.useless++
		if s.useless > maxUselessRecords {
			return &ProtocolError{AlertUnexpectedMessage, "too many records without application data"}
		}
	}
	switch typ {
	case typeApplicationData:
		if len(plain) == 0 {
			return nil
		}
		s.useless = 0
		return deliver(plain)
	case typeAlert:
		if len(plain) != 2 {
			return &ProtocolError{AlertDecodeError, "alert of " + strconv.Itoa(len(plain)) + " bytes"}
		}
		switch a := Alert(plain[1]); a {
		case AlertCloseNotify:
			return ErrCloseNotify
		case AlertUserCanceled:
			// A close_notify follows; crypto/tls ignores it too.
			return nil
		default:
			return &RemoteAlertError{a}
		}
	case typeHandshake:
		if len(plain) == 0 {
			return &ProtocolError{AlertUnexpectedMessage, "empty handshake record"}
		}
		return s.handshake(plain)
	default:
		return &ProtocolError{AlertUnexpectedMessage, "protected record of type " + strconv.Itoa(int(typ))}
	}
}

// handshake handles post-handshake messages. A server that never asks for
// a certificate after the handshake accepts only KeyUpdate (RFC 8446
// §4.6.3), which precedes a key change and so must end its record (§5.1).
func (s *Session) handshake(data []byte) error {
	for len(data) > 0 {
		k := min(len(s.hsFrag)-int(s.hsLen), len(data))
		copy(s.hsFrag[s.hsLen:], data[:k])
		s.hsLen += uint8(k)
		data = data[k:]
		if s.hsFrag[0] != msgKeyUpdate {
			return &ProtocolError{AlertUnexpectedMessage, "unexpected post-handshake message of type " + strconv.Itoa(int(s.hsFrag[0]))}
		}
		if s.hsLen >= 4 && (s.hsFrag[1] != 0 || s.hsFrag[2] != 0 || s.hsFrag[3] != 1) {
			return &ProtocolError{AlertDecodeError, "KeyUpdate of the wrong length"}
		}
		if int(s.hsLen) < len(s.hsFrag) {
			return nil // the rest comes in the next record
		}
		s.hsLen = 0
		req := s.hsFrag[4]
		if req > 1 {
			return &ProtocolError{AlertIllegalParameter, "KeyUpdate request_update is " + strconv.Itoa(int(req))}
		}
		if len(data) > 0 {
			return &ProtocolError{AlertUnexpectedMessage, "KeyUpdate not at the end of its record"}
		}
		if err := s.in.update(s.suite); err != nil {
			return &ProtocolError{AlertInternalError, err.Error()}
		}
		if req == 1 {
			s.owed.Or(owedKeyUpdate)
		}
	}
	return nil
}

// WriteOwed reports whether the writer owes the peer a record even with no
// data to send (a KeyUpdate answering update_requested): Seal with no data
// produces it.
func (s *Session) WriteOwed() bool { return s.owed.Load() != 0 }

// UpdateKeys makes the next Seal send a KeyUpdate and move to the next
// write key; with requestPeer the peer is asked to do the same.
func (s *Session) UpdateKeys(requestPeer bool) {
	if requestPeer {
		s.owed.Or(owedKeyUpdate | owedRequest)
		return
	}
	s.owed.Or(owedKeyUpdate)
}

// Seal appends to dst the records carrying the concatenation of bufs,
// each with at most MaxPlaintext bytes, preceded by a KeyUpdate when one is
// owed. With no data it appends only what is owed (possibly nothing).
func (s *Session) Seal(dst []byte, bufs ...[]byte) ([]byte, error) {
	dst, err := s.sealOwed(dst)
	if err != nil {
		return dst, err
	}
	total := 0
	for _, b := range bufs {
		total += len(b)
	}
	if total == 0 {
		return dst, nil
	}
	aead, err := s.out.cipher(s.suite)
	if err != nil {
		return dst, err
	}
	records := (total + MaxPlaintext - 1) / MaxPlaintext
	dst = grow(dst, total+records*s.Overhead())
	bi, off := 0, 0
	for total > 0 {
		n := min(total, MaxPlaintext)
		total -= n
		start := len(dst)
		dst = append(dst, typeApplicationData, 3, 3, 0, 0)
		for n > 0 {
			b := bufs[bi][off:]
			if len(b) == 0 {
				bi, off = bi+1, 0
				continue
			}
			k := min(n, len(b))
			dst = append(dst, b[:k]...)
			n -= k
			off += k
		}
		dst = append(dst, typeApplicationData)
		dst = s.sealRecord(aead, dst, start)
	}
	return dst, nil
}

// AppendAlert appends one alert record: close_notify at warning level, any
// other alert fatal.
func (s *Session) AppendAlert(dst []byte, a Alert) ([]byte, error) {
	level := byte(2)
	if a == AlertCloseNotify || a == AlertUserCanceled {
		level = 1
	}
	return s.sealControl(dst, typeAlert, level, byte(a))
}

// RestWrite lets the write key's AEAD go until the next Seal rebuilds it,
// like Rest for the read key. The caller owns the write half (a writer
// that has let go of the socket cannot be sealing meanwhile).
func (s *Session) RestWrite() { s.out.rest() }

// WriteResting reports whether the write key rests (for tests; the caller
// owns the write half).
func (s *Session) WriteResting() bool { return s.out.aead == nil }

func (s *Session) sealOwed(dst []byte) ([]byte, error) {
	if s.owed.Load() == 0 && s.out.seq < rekeyAfter {
		return dst, nil
	}
	o := s.owed.Swap(0)
	var req byte
	if o&owedRequest != 0 {
		req = 1
	}
	dst, err := s.sealControl(dst, typeHandshake, msgKeyUpdate, 0, 0, 1, req)
	if err != nil {
		return dst, err
	}
	return dst, s.out.update(s.suite)
}

// sealControl seals a record of content type typ carrying body.
func (s *Session) sealControl(dst []byte, typ byte, body ...byte) ([]byte, error) {
	aead, err := s.out.cipher(s.suite)
	if err != nil {
		return dst, err
	}
	dst = grow(dst, len(body)+s.Overhead())
	start := len(dst)
	dst = append(dst, typeApplicationData, 3, 3, 0, 0)
	dst = append(dst, body...)
	dst = append(dst, typ)
	return s.sealRecord(aead, dst, start), nil
}

// sealRecord encrypts in place the record that starts at dst[start]: a
// header whose length is still unset, then the inner plaintext (content and
// content type). The caller has made room for the tag.
func (s *Session) sealRecord(aead cipher.AEAD, dst []byte, start int) []byte {
	body := dst[start+recordHeaderLen:]
	n := len(body) + tagLen
	hdr := dst[start : start+recordHeaderLen]
	hdr[3], hdr[4] = byte(n>>8), byte(n)
	nonce := s.out.nonce()
	sealed := aead.Seal(body[:0], nonce, body, hdr)
	s.out.seq++
	return dst[:start+recordHeaderLen+len(sealed)]
}

// grow makes room for n more bytes.
func grow(b []byte, n int) []byte {
	if cap(b)-len(b) >= n {
		return b
	}
	nb := make([]byte, len(b), 2*cap(b)+n)
	copy(nb, b)
	return nb
}
