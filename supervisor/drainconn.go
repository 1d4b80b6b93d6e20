package supervisor

import (
	"bytes"
	"net"
	"sync"
	"sync/atomic"
)

// drainListener wraps a worker's listener so that, once draining starts,
// HTTP responses on kept-alive connections say "Connection: close". The HTTP
// client then opens its next request on a new connection, which the kernel
// hands to a new worker, instead of reusing one the old worker is about to
// close (a POST racing that close fails, and the pusher SDK does not retry).
//
// Lock story: draining is an atomic flag read on every Write; conns' own
// state is touched only by the goroutine writing to that connection (net/http
// writes a connection from one goroutine at a time).
type drainListener struct {
	net.Listener
	draining atomic.Bool
	// full, when set and true, also closes connections after each
	// response: at the open-files limit, idle keep-alive connections must
	// not hold the descriptors in reserve.
	full func() bool
}

// closing reports whether responses should close their connection.
func (l *drainListener) closing() bool {
	return l.draining.Load() || l.full != nil && l.full()
}

func (l *drainListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &drainConn{Conn: c, l: l}, nil
}

// startDraining makes every later HTTP response ask to close its connection.
func (l *drainListener) startDraining() { l.draining.Store(true) }

type drainConn struct {
	net.Conn
	l *drainListener
	// upgraded is set once a 101 went out: the rest is WebSocket frames.
	upgraded bool
	mu       sync.Mutex // guards upgraded against a hijacked writer racing http's last write
}

func (c *drainConn) Write(p []byte) (int, error) {
	if !c.l.closing() {
		c.noteUpgrade(p)
		return c.Conn.Write(p)
	}
	c.mu.Lock()
	up := c.upgraded
	c.mu.Unlock()
	if up {
		return c.Conn.Write(p)
	}
	out, changed := addConnectionClose(p)
	c.noteUpgrade(p)
	if !changed {
		return c.Conn.Write(p)
	}
	if _, err := c.Conn.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (c *drainConn) noteUpgrade(p []byte) {
	if bytes.HasPrefix(p, []byte("HTTP/1.1 101 ")) {
		c.mu.Lock()
		c.upgraded = true
		c.mu.Unlock()
	}
}

// addConnectionClose inserts "Connection: close" after the status line of a
// response header block that starts p and has no Connection header yet.
func addConnectionClose(p []byte) ([]byte, bool) {
	if !bytes.HasPrefix(p, []byte("HTTP/1.")) || bytes.HasPrefix(p[min(len(p), 9):], []byte("101")) {
		return p, false
	}
	eol := bytes.Index(p, []byte("\r\n"))
	if eol < 0 {
		return p, false
	}
	headers := p[eol+2:]
	if i := bytes.Index(p[eol:], []byte("\r\n\r\n")); i >= 0 {
		headers = p[eol+2 : max(eol+2, eol+i)]
	}
	for _, line := range bytes.Split(headers, []byte("\r\n")) {
		if len(line) >= 11 && bytes.EqualFold(line[:11], []byte("connection:")) {
			return p, false
		}
	}
	const hdr = "Connection: close\r\n"
	out := make([]byte, 0, len(p)+len(hdr))
	out = append(out, p[:eol+2]...)
	out = append(out, hdr...)
	out = append(out, p[eol+2:]...)
	return out, true
}

// NetConn is the connection inside (fdreserve.Reserved and the server look
// through it).
func (c *drainConn) NetConn() net.Conn { return c.Conn }
