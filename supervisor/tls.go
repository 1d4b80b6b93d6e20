package supervisor

import (
	"errors"
	"net"

	"github.com/reverb-go/reverb/laravelcfg"
)

// wrapTLS returns ln wrapped in TLS when the config (or a Herd/Valet
// certificate for the hostname) asks for it, and whether it did.
func wrapTLS(ln net.Listener, ep Endpoint, p *laravelcfg.Project) (net.Listener, bool, error) {
	if !ep.TLS.Enabled() {
		return ln, false, nil
	}
	return nil, false, errors.New("TLS is configured (reverb.servers.reverb.options.tls) but not supported by this build yet")
}
