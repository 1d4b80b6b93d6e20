//go:build linux && !portable

package server

import (
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// Direct writes (Linux): a plain TCP socket is written by the flusher pool
// with non-blocking write/writev on its descriptor, so one flusher serves
// many sockets and a slow client never holds one up (flusher.go).
const directWrites = true

// directWriter is the descriptor access of a plain TCP socket for the
// flusher pool; false for anything else (TLS gets a writer goroutine).
func directWriter(nc net.Conn) (syscall.RawConn, bool) {
	tc, ok := plainTCP(nc)
	if !ok {
		return nil, false
	}
	rc, err := tc.SyscallConn()
	return rc, err == nil
}

// writevNow writes as much of bufs as the socket takes without waiting.
func (c *conn) writevNow(bufs [][]byte) (int, error) {
	n := 0
	var werr error
	err := c.raw.Write(func(fd uintptr) bool {
		for len(bufs) > 0 {
			var m int
			var e error
			if len(bufs) == 1 {
				m, e = unix.Write(int(fd), bufs[0]) // the common case: one frame
			} else {
				m, e = unix.Writev(int(fd), bufs[:min(len(bufs), 1024)])
			}
			if e == unix.EINTR {
				continue
			}
			if e != nil {
				if e != unix.EAGAIN {
					werr = e
				}
				return true
			}
			n += m
			bufs = unwrittenInPlace(bufs, m)
		}
		return true
	})
	if err != nil {
		return n, err
	}
	return n, werr
}
