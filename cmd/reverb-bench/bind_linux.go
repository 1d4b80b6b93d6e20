package main

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// bindNoPort sets IP_BIND_ADDRESS_NO_PORT before the dialer binds the source
// address: without it bind(ip, 0) picks a port by scanning the whole
// ephemeral range under a lock (per socket, O(ports in use)), which made
// the client, not the server, the cost of a connect storm; with it the
// kernel picks the port at connect() from the 4-tuple hash.
func bindNoPort(network, address string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IP, unix.IP_BIND_ADDRESS_NO_PORT, 1)
	})
	if err != nil {
		return err
	}
	return serr
}
