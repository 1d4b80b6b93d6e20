//go:build linux && !portable

package server

import (
	"bytes"
	"strings"
	"testing"

	"github.com/reverb-go/reverb/laravelcfg"
)

// FuzzPollerUpgrade drives the request-head checks of the pollers: no
// head may panic, and a head they take is a GET in HTTP/1.1 to a known
// app's path with one valid Host, within the request size, answered 101.
// Everything else must be left to net/http.
func FuzzPollerUpgrade(f *testing.F) {
	f.Add([]byte(upgradeHead + "\r\n"))
	f.Add([]byte(strings.Replace(upgradeHead, "Host: x", "Host: x\r\nHost: y", 1) + "\r\n"))
	f.Add([]byte(strings.Replace(upgradeHead, "GET /app/reverb-key", "GET http://h/app/reverb-key", 1) + "\r\n"))
	f.Add([]byte(upgradeHead + "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"))
	f.Add([]byte(upgradeHead + "X-A: \x7f\r\n\r\n"))
	f.Add([]byte("GET /app/reverb-key HTTP/1.1\r\n\r\n"))
	s, err := New(Options{Apps: []laravelcfg.App{appA()}, MaxRequestSize: 2048})
	if err != nil {
		f.Fatal(err)
	}
	defer s.Close()
	f.Fuzz(func(t *testing.T, head []byte) {
		r, a, resp := s.pollerUpgrade(nil, head)
		if a == nil {
			return
		}
		if r.Method != "GET" || r.Proto != "HTTP/1.1" || r.Host == "" || !validHost(r.Host) ||
			len(head) > 2048 || r.URL.Path != "/app/reverb-key" || a.cfg.Key != "reverb-key" {
			t.Fatalf("took %q: %s %s %s host %q", head, r.Method, r.Proto, r.URL.Path, r.Host)
		}
		if !bytes.HasPrefix(resp, []byte("HTTP/1.1 101 Switching Protocols\r\n")) {
			t.Fatalf("response %q", resp)
		}
	})
}
