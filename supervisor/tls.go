package supervisor

import (
	"crypto/tls"
	"net"

	"github.com/reverb-go/reverb/laravelcfg"
	"github.com/reverb-go/reverb/server/tlsconf"
	"github.com/reverb-go/reverb/server/tlsrec"
)

// wrapTLS returns ln wrapped in TLS when the config (or a Herd/Valet
// certificate for the hostname) asks for it, and whether it did. The
// handshake runs in crypto/tls; TLS 1.3 connections then continue on the
// server's own record layer (tlsrec), driven like plain sockets. Each
// worker calls it with the config it loaded, so a restart picks up renewed
// certificates. Failed handshakes go to hl.
func wrapTLS(ln net.Listener, ep Endpoint, p *laravelcfg.Project, hl *handshakeLog) (net.Listener, bool, error) {
	cfg, err := tlsConfig(ep, p)
	if err != nil || cfg == nil {
		return ln, false, err
	}
	return tlsrec.NewListener(ln, cfg, hl.failed), true, nil
}

// tlsConfig resolves TLS like Reverb: options.tls, else a Herd/Valet site
// certificate for the hostname; nil when the server is plain.
func tlsConfig(ep Endpoint, p *laravelcfg.Project) (*tls.Config, error) {
	res, err := tlsconf.Load(tlsconf.Request{
		TLS:      ep.TLS,
		Hostname: ep.Hostname,
		AppEnv:   p.AppEnv(), // config('app.env'), as Reverb's app()->environment()
		BaseDir:  p.BasePath,
	})
	if err != nil {
		return nil, err
	}
	return res.Config, nil
}
