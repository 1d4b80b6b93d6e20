//go:build !unix

package tcplisten

import (
	"net"
	"syscall"
)

// control leaves every option out: Windows has no SO_REUSEPORT, and Go
// already chooses IPV6_V6ONLY for "[::]".
func control(o Options, unsupported *[]string) func(network, address string, c syscall.RawConn) error {
	if o.ReusePort {
		*unsupported = append(*unsupported, "so_reuseport")
	}
	if o.IPv6Only != nil {
		*unsupported = append(*unsupported, "ipv6_v6only")
	}
	return nil
}

// setBacklog cannot change the queue of a listening socket on Windows.
func setBacklog(net.Listener, int) (bool, error) { return false, nil }
