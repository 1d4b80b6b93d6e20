//go:build !linux || portable

package supervisor

import "net"

// listen opens the listening socket of the in-process runner. Socket
// activation is systemd's, so Linux-only (listen_linux.go).
func listen(addr string) (net.Listener, bool, error) {
	ln, err := net.Listen("tcp", addr)
	return ln, false, err
}
