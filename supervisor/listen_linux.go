//go:build linux && !portable

package supervisor

import (
	"net"

	"github.com/reverb-go/reverb/supervisor/sockets"
)

// listen opens the listening socket of the in-process runner: systemd's
// (socket activation) when given, else a new TCP listener on addr.
func listen(addr string) (net.Listener, bool, error) { return sockets.Listen(addr) }
