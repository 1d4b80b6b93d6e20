//go:build !linux || portable

package server

import (
	"net"
	"syscall"
)

// Writes on the portable path go through net.Conn: every socket with
// queued frames gets a writer goroutine (conn.writeLoop) that coalesces
// the queue into one net.Buffers write and ends when the queue is empty,
// so an idle socket still holds no writer. No flusher pool is started.
const directWrites = false

// directWriter never gives descriptor access here: the standard library's
// net.Conn is the only way sockets are written.
func directWriter(net.Conn) (syscall.RawConn, bool) { return nil, false }

// writevNow is only reached through the flusher pool, which the portable
// path does not start; it writes through net.Conn for completeness.
func (c *conn) writevNow(bufs [][]byte) (int, error) {
	b := net.Buffers(bufs)
	n, err := b.WriteTo(c.nc)
	return int(n), err
}
