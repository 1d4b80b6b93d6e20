//go:build linux && !portable

package server

import (
	"bytes"

	"github.com/reverb-go/reverb/server/websocket"
)

// Scanning the common upgrade request in place. net/http's ReadRequest
// builds a whole http.Request for every connect (a header map, a string
// per name and value, a parsed URL): about a kilobyte and two dozen
// allocations, some 6 % of the server's CPU in a connect storm, for the
// three things a poller's upgrade uses. scanUpgradeHead reads those from
// the bytes of a request in the form every WebSocket client sends, and
// declines everything else, which net/http then parses as before
// (pollerUpgrade). It only ever takes a request net/http's path would take
// with the same result (FuzzScanUpgradeHead holds it to that): when in
// doubt it declines.

// upgradeFields is what a poller's upgrade needs from the request head.
type upgradeFields struct {
	appKey string // from the path {Path}/app/{key}
	origin string // the Origin header, "" without one
	wsKey  string // Sec-WebSocket-Key
	size   int    // the head's size as Reverb counts it (headSize)
}

// scanUpgradeHead takes head, one complete request head ending in CRLF
// CRLF, when it is exactly: "GET {target} HTTP/1.1", the target printable
// ASCII without '%' or '#', its path {pathPrefix}{key}; header lines
// "Name: value" with token names and printable ASCII values (tabs
// allowed), none folded; one Host (valid), one Upgrade: websocket, one
// Connection naming upgrade, one valid Sec-WebSocket-Key, one
// Sec-WebSocket-Version: 13, at most one Origin, at most one
// Sec-WebSocket-Extensions offering what browsers offer; and no
// Content-Length, Transfer-Encoding, Expect or Trailer (each of which
// net/http treats specially). ok is false for anything else.
func scanUpgradeHead(head []byte, pathPrefix string) (h upgradeFields, ok bool) {
	line, rest, found := bytes.Cut(head, crlf)
	if !found || !bytes.HasPrefix(line, []byte("GET /")) || !bytes.HasSuffix(line, []byte(" HTTP/1.1")) {
		return h, false
	}
	target := line[len("GET ") : len(line)-len(" HTTP/1.1")]
	if len(target) > 1 && target[1] == '/' {
		return h, false // "//": net/http's URL rules for it are not worth repeating
	}
	for _, c := range target {
		if c <= ' ' || c >= 0x7f || c == '%' || c == '#' {
			return h, false
		}
	}
	path, _, _ := bytes.Cut(target, []byte("?"))
	key, found := bytes.CutPrefix(path, []byte(pathPrefix))
	if !found || len(key) == 0 || bytes.IndexByte(key, '/') >= 0 {
		return h, false
	}
	h.size = len(line) + 2 + 2 // the request line and the empty line
	var hosts, upgrades, connections, keys, versions, origins, extensions, pragmas int
	var origin, wsKey []byte
	pragmaNoCache, cacheControl := false, false
	for {
		line, rest, found = bytes.Cut(rest, crlf)
		if !found {
			return h, false
		}
		if len(line) == 0 {
			break // the empty line: the end of the head
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			return h, false // no name (a folded line starts with a space, not a token)
		}
		name, value := line[:colon], trimOWS(line[colon+1:])
		if !validHeaderName(name) || !printableValue(value) {
			return h, false
		}
		h.size += len(name) + 2 + len(value) + 2
		switch {
		case headerIs(name, "Host"):
			hosts++
			if len(value) == 0 || !validHost(value) {
				return h, false
			}
		case headerIs(name, "Upgrade"):
			upgrades++
			if !bytes.EqualFold(value, []byte("websocket")) {
				return h, false
			}
		case headerIs(name, "Connection"):
			connections++
			if !hasToken(value, "upgrade") {
				return h, false
			}
		case headerIs(name, "Sec-WebSocket-Key"):
			keys++
			wsKey = value
		case headerIs(name, "Sec-WebSocket-Version"):
			versions++
			if string(value) != "13" {
				return h, false
			}
		case headerIs(name, "Origin"):
			origins++
			origin = value
		case headerIs(name, "Sec-WebSocket-Extensions"):
			// What browsers offer; Reverb declines compression, so a
			// valid offer changes nothing. Other offers are checked by
			// the handshake (net/http's path).
			extensions++
			if string(value) != "permessage-deflate" && string(value) != "permessage-deflate; client_max_window_bits" {
				return h, false
			}
		case headerIs(name, "Pragma"):
			// net/http adds "Cache-Control: no-cache" to a request whose
			// first Pragma is no-cache and that has no Cache-Control.
			if pragmas++; pragmas == 1 {
				pragmaNoCache = string(value) == "no-cache"
			}
		case headerIs(name, "Cache-Control"):
			cacheControl = true
		case headerIs(name, "Content-Length"), headerIs(name, "Transfer-Encoding"),
			headerIs(name, "Expect"), headerIs(name, "Trailer"):
			return h, false
		}
	}
	if len(rest) != 0 || hosts != 1 || upgrades != 1 || connections != 1 || keys != 1 ||
		versions != 1 || origins > 1 || extensions > 1 || !websocket.ValidKey(wsKey) {
		return h, false
	}
	if pragmaNoCache && !cacheControl {
		h.size += len("Cache-Control: no-cache\r\n")
	}
	h.appKey, h.origin, h.wsKey = string(key), string(origin), string(wsKey)
	return h, true
}

var crlf = []byte("\r\n")

// headerIs compares a header name the way net/http's canonical keys do:
// regardless of case (the names are ASCII tokens by then).
func headerIs(name []byte, want string) bool { return bytes.EqualFold(name, []byte(want)) }

// trimOWS drops the spaces and tabs around a header value.
func trimOWS(v []byte) []byte {
	for len(v) > 0 && (v[0] == ' ' || v[0] == '\t') {
		v = v[1:]
	}
	for len(v) > 0 && (v[len(v)-1] == ' ' || v[len(v)-1] == '\t') {
		v = v[:len(v)-1]
	}
	return v
}

// printableValue: printable ASCII and tabs only (net/http takes more; the
// scan declines what it does not need to judge).
func printableValue(v []byte) bool {
	for _, c := range v {
		if (c < ' ' && c != '\t') || c >= 0x7f {
			return false
		}
	}
	return true
}

// hasToken reports whether the comma-separated list v names tok (ASCII
// case aside).
func hasToken(v []byte, tok string) bool {
	for len(v) > 0 {
		var item []byte
		item, v, _ = bytes.Cut(v, []byte(","))
		if headerIs(trimOWS(item), tok) {
			return true
		}
	}
	return false
}
