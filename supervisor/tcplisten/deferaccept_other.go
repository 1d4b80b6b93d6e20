//go:build unix && !linux

package tcplisten

// deferAccept: TCP_DEFER_ACCEPT is Linux's (deferaccept_linux.go); the
// BSDs' accept filters need a kernel module, so elsewhere a connection is
// accepted once its handshake completes.
func deferAccept(int) {}
