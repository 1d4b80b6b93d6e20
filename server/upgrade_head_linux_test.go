//go:build linux && !portable

package server

import (
	"bufio"
	"bytes"
	"net/http"
	"net/textproto"
	"strings"
	"testing"

	"github.com/reverb-go/reverb/laravelcfg"
)

// FuzzPollerUpgrade drives the request-head checks of the pollers: no
// head may panic, and a head they take is one net/http reads to its last
// byte, a GET in HTTP/1.1 to a known app's path (extra leading slashes
// left out, as routing does) with one valid Host,
// within the request size, answered 101.
// Everything else must be left to net/http.
func FuzzPollerUpgrade(f *testing.F) {
	for _, seed := range upgradeSeeds() {
		f.Add([]byte(seed))
	}
	s, err := New(Options{Apps: []laravelcfg.App{appA()}, MaxRequestSize: 2048})
	if err != nil {
		f.Fatal(err)
	}
	defer s.Close()
	f.Fuzz(func(t *testing.T, head []byte) {
		_, a, resp := s.pollerUpgrade(nil, head)
		if a == nil {
			return
		}
		rd := bytes.NewReader(head)
		br := bufio.NewReader(rd)
		r, err := http.ReadRequest(br)
		if err != nil {
			t.Fatalf("took %q, which net/http refuses: %v", head, err)
		}
		if br.Buffered() > 0 || rd.Len() > 0 {
			t.Fatalf("took %q, of which net/http reads %d bytes as the head", head, len(head)-br.Buffered()-rd.Len())
		}
		if r.Method != "GET" || r.Proto != "HTTP/1.1" || r.Host == "" || !validHost(r.Host) ||
			len(head) > 2048 || trimExtraSlashes(r.URL.Path) != "/app/reverb-key" || a.cfg.Key != "reverb-key" {
			t.Fatalf("took %q: %s %s %s host %q", head, r.Method, r.Proto, r.URL.Path, r.Host)
		}
		if !bytes.HasPrefix(resp, []byte("HTTP/1.1 101 Switching Protocols\r\n")) {
			t.Fatalf("response %q", resp)
		}
	})
}

// FuzzScanUpgradeHead holds the in-place scan of an upgrade request to
// net/http's parse: whatever head the scan takes, net/http's path takes
// too, with the same app key, Origin, Sec-WebSocket-Key and size.
func FuzzScanUpgradeHead(f *testing.F) {
	for _, seed := range upgradeSeeds() {
		f.Add([]byte(seed))
	}
	s, err := New(Options{Apps: []laravelcfg.App{appA()}, Path: "/ws"})
	if err != nil {
		f.Fatal(err)
	}
	defer s.Close()
	f.Fuzz(func(t *testing.T, head []byte) {
		for _, prefix := range []string{"/app/", "/ws/app/"} {
			scanned, ok := scanUpgradeHead(head, prefix)
			if !ok {
				continue
			}
			s.opts.Path = strings.TrimSuffix(prefix, "/app/")
			parsed, ok := s.parseUpgradeHead(head)
			if !ok {
				t.Fatalf("the scan took %q (prefix %q), net/http's path does not", head, prefix)
			}
			if scanned != parsed {
				t.Fatalf("%q: scanned %+v, parsed %+v", head, scanned, parsed)
			}
		}
	})
}

// upgradeSeeds are heads as clients send them and near misses of each rule.
func upgradeSeeds() []string {
	browser := "GET /app/reverb-key?protocol=7&client=js&version=8.4.0&flash=false HTTP/1.1\r\n" +
		"Host: localhost:8080\r\nConnection: Upgrade\r\nPragma: no-cache\r\nCache-Control: no-cache\r\n" +
		"User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36\r\n" +
		"Upgrade: websocket\r\nOrigin: http://localhost:8000\r\nSec-WebSocket-Version: 13\r\n" +
		"Accept-Encoding: gzip, deflate, br, zstd\r\nAccept-Language: en-US,en;q=0.9\r\n" +
		"Sec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n"
	node := "GET /ws/app/reverb-key?protocol=7&client=js&version=8.4.0 HTTP/1.1\r\n" +
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
		"Connection: keep-alive, Upgrade\r\nUpgrade: websocket\r\nOrigin: https://app.test\r\nHost: 127.0.0.1:8080\r\n\r\n"
	plain := upgradeHead + "\r\n"
	return []string{
		plain, browser, node,
		strings.Replace(browser, "Cache-Control: no-cache\r\n", "", 1),
		strings.Replace(strings.Replace(browser, "Pragma: no-cache\r\n", "", 1), "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n", "", 1),
		strings.Replace(plain, "Host: x", "Host: x\r\nHost: y", 1),
		strings.Replace(plain, "Host: x", "host:x", 1),
		strings.Replace(plain, "Host: x", "Host: \tx \t", 1),
		strings.Replace(plain, "Host: x", "Host: x\r\n continued", 1),
		strings.Replace(plain, "Host: x", "Host : x", 1),
		strings.Replace(plain, "Host: x", "Host: a b", 1),
		strings.Replace(plain, "GET /app/reverb-key", "GET http://h/app/reverb-key", 1),
		strings.Replace(plain, "GET /app/reverb-key", "GET //app/reverb-key", 1),
		strings.Replace(plain, "GET /app/reverb-key", "GET /app/reverb%2Dkey", 1),
		strings.Replace(plain, "GET /app/reverb-key", "GET /app/reverb-key/", 1),
		strings.Replace(plain, "GET /app/reverb-key", "GET /app/", 1),
		strings.Replace(plain, "GET /app/reverb-key", "GET /app/reverb-key#x", 1),
		strings.Replace(plain, "GET /app/reverb-key", "GET /app/re\"verb{key}", 1),
		strings.Replace(plain, "HTTP/1.1", "HTTP/1.0", 1),
		strings.Replace(plain, "GET ", "get ", 1),
		strings.Replace(plain, "Upgrade: websocket", "Upgrade: WebSocket", 1),
		strings.Replace(plain, "Upgrade: websocket", "Upgrade: websocket, h2c", 1),
		strings.Replace(plain, "Connection: Upgrade", "Connection: close", 1),
		strings.Replace(plain, "Connection: Upgrade", "Connection: keep-alive\r\nConnection: upgrade", 1),
		strings.Replace(plain, "Sec-WebSocket-Version: 13", "Sec-WebSocket-Version:  13.0", 1),
		strings.Replace(plain, "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Key: short", 1),
		strings.Replace(plain, "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "sec-websocket-key:  dGhlIHNhbXBsZSBub25jZQ  ", 1),
		upgradeHead + "Origin: a\r\nOrigin: b\r\n\r\n",
		upgradeHead + "Origin: \r\n\r\n",
		upgradeHead + "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		upgradeHead + "Content-Length: 0\r\n\r\n",
		upgradeHead + "X-A: \x7f\r\n\r\n",
		upgradeHead + "X-A: caf\xc3\xa9\r\n\r\n",
		upgradeHead + "X-A: b\nX-B: c\r\n\r\n",
		upgradeHead + ": empty name\r\n\r\n",
		upgradeHead + "\r\nGET / HTTP/1.1\r\n\r\n",
		upgradeHead + "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=7\r\n\r\n",
		upgradeHead + "Sec-WebSocket-Extensions: permessage-deflate\r\nSec-WebSocket-Extensions: x-webkit-deflate-frame\r\n\r\n",
		upgradeHead + "Pragma: no-cache\r\nPragma: x\r\n\r\n",
		"GET /app/reverb-key HTTP/1.1\r\n\r\n",
	}
}

// The scan takes what clients send and declines each near miss; where it
// declines, net/http's path decides as before.
func TestScanUpgradeHead(t *testing.T) {
	node := upgradeSeeds()[2]
	h, ok := scanUpgradeHead([]byte(node), "/ws/app/")
	if !ok || h.appKey != "reverb-key" || h.origin != "https://app.test" || h.wsKey != "dGhlIHNhbXBsZSBub25jZQ==" || h.size != len(node) {
		t.Fatalf("node client: %+v %v (head %d bytes)", h, ok, len(node))
	}
	if _, ok := scanUpgradeHead([]byte(node), "/app/"); ok {
		t.Fatal("took a path outside the prefix")
	}
	// The seeds the scan takes (the rest it leaves to net/http): the
	// plain one, the browser's with and without Pragma and extensions, a lower-case
	// Host without a space, a Host between tabs, quotes and braces in the
	// path, "WebSocket", a key between spaces, an empty Origin, a first Pragma of no-cache without Cache-Control.
	takes := map[int]bool{0: true, 1: true, 3: true, 4: true, 6: true, 7: true, 17: true, 20: true, 26: true, 28: true, 38: true}
	for i, seed := range upgradeSeeds() {
		if _, ok := scanUpgradeHead([]byte(seed), "/app/"); ok != takes[i] {
			t.Errorf("seed %d taken %v: %q", i, ok, seed)
		}
	}
}

// headEnd ends a head where net/http's reader does, bare "\n" line ends
// included; until the empty line has arrived the head is incomplete.
func TestHeadEnd(t *testing.T) {
	cases := []struct {
		data string
		end  int
	}{
		{"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27},
		{"GET / HTTP/1.1\r\nHost: x\r\n\r\nframes", 27},
		{"GET / HTTP/1.1\nHost: x\n\n", 24},
		{"GET / HTTP/1.1\r\nHost: x\r\n\n\r\n\r\n", 26},
		{"GET / HTTP/1.1\nHost: x\n\r\n", 25},
		{"GET / HTTP/1.1\r\n\r\n", 18},
		{"\n\n", 2},
		{"GET / HTTP/1.1\r\nHost: x\r\n\r", -1},
		{"GET / HTTP/1.1\r\nHost: x\r\n", -1},
		{"GET / HTTP/1.1\r\nX: a\r\r\n\r\n", 25},
		{"", -1},
	}
	for _, tc := range cases {
		if got := headEnd([]byte(tc.data)); got != tc.end {
			t.Errorf("headEnd(%q) = %d, want %d", tc.data, got, tc.end)
		}
	}
}

// FuzzHeadEnd holds headEnd to net/http's reader: wherever textproto reads
// a request line and a header block without error, headEnd ends the head
// after the same bytes.
func FuzzHeadEnd(f *testing.F) {
	for _, seed := range upgradeSeeds() {
		f.Add([]byte(seed))
		f.Add([]byte(strings.ReplaceAll(seed, "\r\n", "\n")))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		end := headEnd(data)
		rd := bytes.NewReader(data)
		br := bufio.NewReader(rd)
		tp := textproto.NewReader(br)
		if _, err := tp.ReadLine(); err != nil {
			return
		}
		if _, err := tp.ReadMIMEHeader(); err != nil {
			return
		}
		if read := len(data) - br.Buffered() - rd.Len(); end != read {
			t.Fatalf("%q: headEnd %d, net/http's reader %d", data, end, read)
		}
	})
}

// A head net/http would end before its last byte is not the poller's to
// take: what net/http leaves behind belongs to the WebSocket.
func TestParseUpgradeHeadWholeHead(t *testing.T) {
	s, err := New(Options{Apps: []laravelcfg.App{appA()}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, ok := s.parseUpgradeHead([]byte(upgradeHead + "\n")); !ok {
		t.Fatal("a head that ends in a bare empty line is refused")
	}
	if _, ok := s.parseUpgradeHead([]byte(upgradeHead + "\nJUNK: x\r\n\r\n")); ok {
		t.Fatal("took bytes past net/http's end of the head as part of it")
	}
}
