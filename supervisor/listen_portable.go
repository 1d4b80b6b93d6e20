//go:build !linux || portable

package supervisor

import (
	"net"

	"github.com/reverb-go/reverb/supervisor/tcplisten"
)

// listen opens the listening socket of the in-process runner with the
// options of servers.reverb.options.tcp, naming those this system lacks.
// Socket activation is systemd's, so Linux-only (listen_linux.go).
func listen(addr string, o tcplisten.Options) (ln net.Listener, activated bool, unsupported []string, err error) {
	ln, unsupported, err = tcplisten.Listen(addr, o)
	return ln, false, unsupported, err
}
