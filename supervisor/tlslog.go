package supervisor

import (
	"sync"
	"time"

	"github.com/reverb-go/reverb/server/tlsrec"
)

// handshakeLogEvery is the most often a failed TLS handshake is logged.
const handshakeLogEvery = time.Minute

// handshakeLog reports failed TLS handshakes without flooding the log.
// A client that connects and closes without sending a byte is a port
// check (a load balancer's, an uptime monitor's, a container health
// check) and is not reported. The others give at most one line a minute,
// which counts those left out since the line before: the first tells of a
// misconfigured client (plain HTTP, an old TLS version, an untrusted
// certificate), the count of a scanner.
type handshakeLog struct {
	logf func(format string, args ...any)
	now  func() time.Time // time.Now; tests move it

	mu      sync.Mutex // guards last and skipped; logf runs outside it
	last    time.Time  // when the last line was written
	skipped int        // failures left out since
}

func newHandshakeLog(logf func(format string, args ...any)) *handshakeLog {
	return &handshakeLog{logf: logf, now: time.Now}
}

// failed is the listener's report of one failure (tlsrec.NewListener).
// A nil log reports nothing.
func (h *handshakeLog) failed(f tlsrec.HandshakeFailure) {
	if h == nil || f.Silent {
		return
	}
	h.mu.Lock()
	now := h.now()
	if !h.last.IsZero() && now.Sub(h.last) < handshakeLogEvery {
		h.skipped++
		h.mu.Unlock()
		return
	}
	skipped := h.skipped
	h.last, h.skipped = now, 0
	h.mu.Unlock()
	switch skipped {
	case 0:
		h.logf("TLS handshake failed from %s: %s", f.Remote, f.Reason)
	case 1:
		h.logf("TLS handshake failed from %s: %s (1 more failed since the last such line)", f.Remote, f.Reason)
	default:
		h.logf("TLS handshake failed from %s: %s (%d more failed since the last such line)", f.Remote, f.Reason, skipped)
	}
}
