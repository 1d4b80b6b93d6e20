// Package websocket is the server side of RFC 6455 as Reverb (Ratchet's
// rfc6455 library) speaks it: the handshake checks in Ratchet's order with
// its exact error responses, a push-based frame decoder that keeps no buffer
// while a connection is idle, and allocation-free frame writers.
package websocket

import (
	"crypto/sha1"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
)

// poweredBy is appended to every handshake response by Reverb's router.
const poweredBy = "Laravel Reverb"

// guid is RFC 6455's fixed key suffix.
const guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// HandshakeError is a rejected upgrade: the response Ratchet's
// ServerNegotiator would send (Guzzle format, see AppendResponse). The
// server writes it and closes the socket.
type HandshakeError struct {
	Status int
	// Reason is the reason phrase of the status line (Guzzle's default
	// phrase unless Ratchet set its own).
	Reason string
	// Header lists the headers in order, X-Powered-By last.
	Header [][2]string
}

// Error describes the rejection for logs.
func (e *HandshakeError) Error() string {
	return "websocket handshake rejected: " + strconv.Itoa(e.Status) + " " + e.Reason
}

// AppendResponse appends the raw response as Guzzle's Message::toString
// writes it: HTTP/1.1 status line, the headers, an empty line and no body.
func (e *HandshakeError) AppendResponse(dst []byte) []byte {
	dst = append(dst, "HTTP/1.1 "...)
	dst = strconv.AppendInt(dst, int64(e.Status), 10)
	dst = append(dst, ' ')
	dst = append(dst, e.Reason...)
	for _, h := range e.Header {
		dst = append(dst, "\r\n"...)
		dst = append(dst, h[0]...)
		dst = append(dst, ": "...)
		dst = append(dst, h[1]...)
	}
	return append(dst, "\r\n\r\n"...)
}

func reject(status int, reason string, header ...[2]string) *HandshakeError {
	if reason == "" {
		reason = http.StatusText(status)
		if status == http.StatusHTTPVersionNotSupported {
			reason = "HTTP Version not supported" // Guzzle's phrase
		}
	}
	return &HandshakeError{Status: status, Reason: reason, Header: append(header, [2]string{"X-Powered-By", poweredBy})}
}

// upgradeHeaders are the extra headers of Ratchet's 426 responses.
var upgradeHeaders = [][2]string{{"Connection", "Upgrade"}, {"Upgrade", "websocket"}, {"Sec-WebSocket-Version", "13"}}

// IsUpgrade reports whether r asks for a WebSocket upgrade. Only "Upgrade:
// websocket" (case-insensitive) counts (compatibility decision; Reverb
// treats any non-empty Upgrade header as one).
func IsUpgrade(r *http.Request) bool {
	for _, v := range r.Header.Values("Upgrade") {
		if strings.EqualFold(strings.TrimSpace(v), "websocket") {
			return true
		}
	}
	return false
}

// CheckHandshake validates an upgrade request in the order of Ratchet's
// ServerNegotiator and returns nil when it may be accepted. Go's net/http
// already refuses requests without exactly one Host header (for HTTP/1.1),
// so check 4 only sees requests that have one.
func CheckHandshake(r *http.Request) *HandshakeError {
	if !strings.EqualFold(r.Method, "GET") {
		return reject(http.StatusMethodNotAllowed, "", [2]string{"Allow", "GET"})
	}
	if !r.ProtoAtLeast(1, 1) {
		return reject(http.StatusHTTPVersionNotSupported, "")
	}
	if !validRequestPath(r) {
		return reject(http.StatusBadRequest, "")
	}
	if r.Host == "" || len(r.Header.Values("Host")) > 1 {
		return reject(http.StatusBadRequest, "")
	}
	if up := r.Header.Values("Upgrade"); len(up) != 1 || !strings.EqualFold(up[0], "websocket") {
		return reject(http.StatusUpgradeRequired, "Upgrade header MUST be provided", upgradeHeaders...)
	}
	if !connectionHasUpgrade(r.Header.Values("Connection")) {
		return reject(http.StatusBadRequest, "Connection Upgrade MUST be requested")
	}
	if key := r.Header.Values("Sec-WebSocket-Key"); len(key) != 1 || !ValidKey(key[0]) {
		return reject(http.StatusBadRequest, "Invalid Sec-WebSocket-Key")
	}
	if v := r.Header.Values("Sec-WebSocket-Version"); len(v) != 1 || phpInt(v[0]) != 13 {
		return reject(http.StatusUpgradeRequired, "", upgradeHeaders...)
	}
	if msg := checkDeflateOptions(r.Header.Values("Sec-WebSocket-Extensions")); msg != "" {
		return reject(http.StatusBadRequest, msg)
	}
	return nil
}

// validRequestPath is RequestVerifier::verifyRequestURI over the path as
// Guzzle holds it (still percent-encoded).
func validRequestPath(r *http.Request) bool {
	p := r.URL.EscapedPath()
	if p == "" || p[0] != '/' || strings.IndexByte(p, '#') >= 0 {
		return false
	}
	for i := 0; i < len(p); i++ {
		if p[i] >= 0x80 {
			return false
		}
	}
	return true
}

func connectionHasUpgrade(values []string) bool {
	for _, v := range values {
		for _, tok := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(tok), "upgrade") {
				return true
			}
		}
	}
	return false
}

// ValidKey is strlen(base64_decode($key)) === 16 with PHP's non-strict
// base64_decode, which skips every character outside the alphabet
// (padding included) and yields floor(n*6/8) bytes for n alphabet characters.
func ValidKey[T string | []byte](key T) bool {
	n := 0
	for i := 0; i < len(key); i++ {
		c := key[i]
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' {
			n++
		}
	}
	return n*6/8 == 16
}

// phpInt is PHP's (int) cast of a string: leading whitespace, optional sign,
// digits; a numeric string in float syntax ("13.0", "1.3e1") is truncated.
func phpInt(s string) int64 {
	s = strings.TrimLeft(s, " \t\n\r\v\f")
	end := 0
	if end < len(s) && (s[end] == '+' || s[end] == '-') {
		end++
	}
	digits := end
	for end < len(s) && s[end] >= '0' && s[end] <= '9' {
		end++
	}
	// A float-looking prefix ("1.3e1") is converted as a float.
	fend := end
	if fend < len(s) && s[fend] == '.' {
		fend++
		for fend < len(s) && s[fend] >= '0' && s[fend] <= '9' {
			fend++
		}
	}
	if fend < len(s) && (s[fend] == 'e' || s[fend] == 'E') {
		e := fend + 1
		if e < len(s) && (s[e] == '+' || s[e] == '-') {
			e++
		}
		if e < len(s) && s[e] >= '0' && s[e] <= '9' {
			for e < len(s) && s[e] >= '0' && s[e] <= '9' {
				e++
			}
			fend = e
		}
	}
	if fend > end && fend > digits {
		if f, err := strconv.ParseFloat(s[:fend], 64); err == nil {
			if f >= -9.2e18 && f <= 9.2e18 {
				return int64(f)
			}
			return 0
		}
	}
	if end == digits {
		return 0
	}
	n, err := strconv.ParseInt(s[:end], 10, 64)
	if err != nil {
		if s[0] == '-' {
			return -1 << 63
		}
		return 1<<63 - 1
	}
	return n
}

// checkDeflateOptions reproduces PermessageDeflateOptions::fromRequestOrResponse:
// Reverb never enables permessage-deflate, but invalid parameters of an
// offered permessage-deflate extension still fail the handshake with 400 and
// the exception message as reason phrase. It returns "" when acceptable.
func checkDeflateOptions(values []string) string {
	if len(values) == 0 {
		return ""
	}
	header := strings.Join(strings.Fields(strings.Join(values, ", ")), "")
	for _, offer := range strings.Split(header, ",") {
		parts := strings.Split(offer, ";")
		if parts[0] != "permessage-deflate" {
			continue
		}
		seen := map[string]bool{}
		for _, part := range parts[1:] {
			key, value, hasValue := strings.Cut(part, "=")
			switch key {
			case "server_no_context_takeover", "client_no_context_takeover":
				if hasValue {
					return key + " must not have a value."
				}
			case "server_max_window_bits":
				if b := phpInt(value); b < 8 || b > 15 {
					return key + " must have a value between 8 and 15."
				}
			case "client_max_window_bits":
				if hasValue {
					if b := phpInt(value); b < 8 || b > 15 {
						return key + " must have no value or a value between 8 and 15."
					}
				}
			default:
				return `Option "` + key + `"is not valid for permessage deflate`
			}
			if seen[key] {
				return key + " specified more than once. Connection must be declined."
			}
			seen[key] = true
		}
	}
	return ""
}

// AcceptKey is base64(sha1(key + RFC 6455 GUID)), the Sec-WebSocket-Accept
// value for a client's Sec-WebSocket-Key.
func AcceptKey(key string) string {
	h := sha1.New()
	h.Write([]byte(key))
	h.Write([]byte(guid))
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// AppendHandshakeResponse appends Reverb's byte-exact 101 response: no
// sub-protocol and no extension is ever negotiated.
func AppendHandshakeResponse(dst []byte, acceptKey string) []byte {
	dst = append(dst, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "...)
	dst = append(dst, acceptKey...)
	return append(dst, "\r\nX-Powered-By: Laravel Reverb\r\n\r\n"...)
}
