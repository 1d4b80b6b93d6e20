package tcplisten

import "golang.org/x/sys/unix"

// deferAccept sets TCP_DEFER_ACCEPT: the kernel completes a connection to
// the listener only once its first bytes arrive, so accept(2) hands over a
// socket whose request (or TLS ClientHello) is already readable, and the
// client's bare handshake ACK wakes nobody. Every client of this server
// speaks first (HTTP, WebSocket, TLS), so nothing waits on it. A client
// that connects and sends nothing is still accepted, once the kernel's
// first SYN-ACK retransmission (about a second) has passed, and then meets
// the server's own request timeout as before. In a connect storm this
// spares the supervisor and the worker one wake-up per connection: see
// docs/performance.md.
//
// A kernel that refused the option would only lose that saving, so the
// error is not the listener's.
func deferAccept(fd int) {
	_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_DEFER_ACCEPT, 1)
}
