package supervisor

import (
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
	logs limitLogs
}

func newHandshakeLog(logf func(format string, args ...any)) *handshakeLog {
	return &handshakeLog{logs: limitLogs{logf: logf, every: handshakeLogEvery}}
}

// failed is the listener's report of one failure (tlsrec.NewListener).
// A nil log reports nothing.
func (h *handshakeLog) failed(f tlsrec.HandshakeFailure) {
	if h == nil || f.Silent {
		return
	}
	h.logs.print("tls", "TLS handshake failed from %s: %s", f.Remote, f.Reason)
}
