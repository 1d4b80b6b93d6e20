// Package tcplisten opens the server's listening TCP socket with the
// options of servers.reverb.options.tcp in config/reverb.php, the PHP
// socket context options ReactPHP gives the socket in Reverb: backlog,
// so_reuseport and ipv6_v6only.
package tcplisten

import (
	"context"
	"net"
)

// Options shape a listening socket.
type Options struct {
	// Backlog is the accept queue length; 0 keeps Go's default, the
	// system maximum (net.core.somaxconn), where ReactPHP would use 511.
	Backlog int
	// ReusePort sets SO_REUSEPORT, so other processes may bind the port.
	ReusePort bool
	// IPv6Only sets IPV6_V6ONLY on an IPv6 socket; nil keeps Go's
	// dual-stack default for "[::]".
	IPv6Only *bool
}

// Listen opens a TCP listener on addr with o applied. unsupported names
// the options this operating system cannot apply (they are left out).
func Listen(addr string, o Options) (ln net.Listener, unsupported []string, err error) {
	lc := net.ListenConfig{Control: control(o, &unsupported)}
	ln, err = lc.Listen(context.Background(), "tcp", addr)
	if err != nil {
		return nil, nil, err
	}
	if o.Backlog > 0 {
		if ok, err := setBacklog(ln, o.Backlog); err != nil {
			ln.Close()
			return nil, nil, err
		} else if !ok {
			unsupported = append(unsupported, "backlog")
		}
	}
	return ln, unsupported, nil
}
