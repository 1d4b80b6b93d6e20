//go:build linux && !portable

package server

import (
	"bufio"
	"bytes"
	"net"
	"net/http"
	"strings"
	"sync"

	"github.com/reverb-go/reverb/server/websocket"
)

// The request-head checks of the pollers' upgrades (upgrade.go): what a
// poller may answer itself, and what goes to net/http.

var headReaders = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 1024) }}

// pollerUpgrade reads head, one complete request head, and returns its
// Origin, its app and the 101 response when the poller may take the
// upgrade whole: a request net/http would accept as it is, to a known
// app's WebSocket path, that passes the handshake checks and is not to be
// refused at the open-files limit. Otherwise a is nil and net/http gets
// the bytes.
func (s *Server) pollerUpgrade(nc net.Conn, head []byte) (origin string, a *appState, resp []byte) {
	if len(head) > s.opts.MaxRequestSize {
		return "", nil, nil // net/http's 431, or the handshake's 413
	}
	h, ok := scanUpgradeHead(head, s.opts.Path+"/app/")
	if !ok {
		if h, ok = s.parseUpgradeHead(head); !ok {
			return "", nil, nil
		}
	}
	if h.size > s.opts.MaxRequestSize {
		return "", nil, nil
	}
	if s.opts.RefuseUpgrade != nil && s.opts.RefuseUpgrade(nc) {
		return "", nil, nil
	}
	if a = s.appByKey(h.appKey); a == nil {
		return "", nil, nil // net/http's handler may ask the app provider
	}
	return h.origin, a, handshakeResponse(h.wsKey)
}

// parseUpgradeHead is the general case of scanUpgradeHead: net/http parses
// the head, and the request must be one its server would hand over as it
// is, to an app's WebSocket path, passing the handshake checks.
func (s *Server) parseUpgradeHead(head []byte) (h upgradeFields, ok bool) {
	br := headReaders.Get().(*bufio.Reader)
	rd := bytes.NewReader(head)
	br.Reset(rd)
	r, err := http.ReadRequest(br)
	// net/http must have read the head to its last byte: bytes it would
	// leave are the WebSocket's, not the head's (headEnd).
	whole := br.Buffered() == 0 && rd.Len() == 0
	br.Reset(nil)
	headReaders.Put(br)
	if err != nil || !whole || !plainRequest(r) {
		return h, false
	}
	key, ok := s.appKeyFromPath(r.URL.Path)
	if !ok || websocket.CheckHandshake(r) != nil {
		return h, false
	}
	return upgradeFields{appKey: key, origin: r.Header.Get("Origin"), wsKey: r.Header.Get("Sec-WebSocket-Key"), size: headSize(r)}, true
}

// plainRequest reports whether net/http's server would hand r to its
// handler unchanged: a GET in HTTP/1.1 in origin form, without body or
// Expect, with one valid Host and valid header names and values (the
// checks of net/http's readRequest; stricter is fine, net/http then
// answers).
func plainRequest(r *http.Request) bool {
	if r.Method != http.MethodGet || r.ProtoMajor != 1 || r.ProtoMinor != 1 ||
		r.RequestURI == "" || r.RequestURI[0] != '/' ||
		r.ContentLength != 0 || len(r.TransferEncoding) > 0 || r.Header.Get("Expect") != "" {
		return false
	}
	// ReadRequest moved the one Host header to r.Host (two are an error);
	// none, or an empty one, is the handshake's 400 or net/http's.
	if r.Host == "" || !validHost(r.Host) {
		return false
	}
	for k, vs := range r.Header {
		if !validHeaderName(k) {
			return false
		}
		for _, v := range vs {
			if !validHeaderValue(v) {
				return false
			}
		}
	}
	return true
}

// validHeaderName: a token of RFC 7230.
func validHeaderName[T string | []byte](k T) bool {
	if len(k) == 0 {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// validHeaderValue: no control characters but tab.
func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// validHost: the characters net/http allows in a Host header.
func validHost[T string | []byte](h T) bool {
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!$%&'()*+,-.:;=[]_~", c) >= 0) {
			return false
		}
	}
	return true
}
