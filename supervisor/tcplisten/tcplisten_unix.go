//go:build unix

package tcplisten

import (
	"net"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// control sets the options before bind, and TCP_DEFER_ACCEPT where
// the kernel has it (deferaccept_linux.go).
func control(o Options, _ *[]string) func(network, address string, c syscall.RawConn) error {
	return func(network, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			deferAccept(int(fd))
			if o.ReusePort {
				if e := unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1); e != nil {
					serr = os.NewSyscallError("setsockopt SO_REUSEPORT", e)
					return
				}
			}
			if o.IPv6Only != nil && network == "tcp6" {
				v := 0
				if *o.IPv6Only {
					v = 1
				}
				if e := unix.SetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, v); e != nil {
					serr = os.NewSyscallError("setsockopt IPV6_V6ONLY", e)
				}
			}
		})
		if err != nil {
			return err
		}
		return serr
	}
}

// setBacklog calls listen(2) again on the listening socket: Linux and the
// BSDs then take the new queue length (Go's Listen used the maximum).
func setBacklog(ln net.Listener, backlog int) (bool, error) {
	sc, ok := ln.(syscall.Conn)
	if !ok {
		return false, nil
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return false, err
	}
	var lerr error
	if err := raw.Control(func(fd uintptr) { lerr = unix.Listen(int(fd), backlog) }); err != nil {
		return false, err
	}
	if lerr != nil {
		return false, os.NewSyscallError("listen", lerr)
	}
	return true, nil
}
