package supervisor

import (
	"fmt"
	"net"
	"reflect"
	"testing"
	"time"

	"github.com/reverb-go/reverb/server/tlsrec"
)

func TestHandshakeLogLeavesOutPortChecksAndLogsOnceAMinute(t *testing.T) {
	var lines []string
	h := newHandshakeLog(func(format string, args ...any) { lines = append(lines, fmt.Sprintf(format, args...)) })
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	h.logs.now = func() time.Time { return clock }
	from := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5000}
	fail := func(reason string, silent bool) {
		h.failed(tlsrec.HandshakeFailure{Remote: from, Reason: reason, Silent: silent})
	}

	fail("EOF", true) // a port check
	fail("client sent an HTTP request to an HTTPS server", false)
	clock = clock.Add(10 * time.Second)
	fail("EOF", false)
	fail("EOF", true)
	fail("tls: client offered only unsupported versions: [302 301]", false)
	clock = clock.Add(51 * time.Second)
	fail("remote error: tls: bad certificate", false)
	clock = clock.Add(61 * time.Second)
	fail("EOF", false)

	want := []string{
		"TLS handshake failed from 127.0.0.1:5000: client sent an HTTP request to an HTTPS server",
		"TLS handshake failed from 127.0.0.1:5000: remote error: tls: bad certificate (2 more like it since the last report)",
		"TLS handshake failed from 127.0.0.1:5000: EOF",
	}
	if !reflect.DeepEqual(lines, want) {
		t.Errorf("logged\n%q\nwant\n%q", lines, want)
	}
}
