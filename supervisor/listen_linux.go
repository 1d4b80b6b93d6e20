//go:build linux && !portable

package supervisor

import (
	"net"

	"github.com/reverb-go/reverb/supervisor/sockets"
	"github.com/reverb-go/reverb/supervisor/tcplisten"
)

// listen opens the listening socket of the in-process runner: systemd's
// (socket activation) when given, else a new TCP listener on addr with the
// options of servers.reverb.options.tcp (all of which Linux supports).
func listen(addr string, o tcplisten.Options) (ln net.Listener, activated bool, unsupported []string, err error) {
	ln, activated, err = sockets.Listen(addr, o)
	return ln, activated, nil, err
}
