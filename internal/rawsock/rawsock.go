//go:build unix

// Package rawsock drives a TCP socket on its bare descriptor, outside the Go
// runtime's poller. A worker's epoll pollers read such a socket and its
// flushers write it without waiting, through the socket's syscall.RawConn.
// Turning each descriptor the supervisor passes into a
// *net.TCPConn instead (net.FileConn) costs about sixteen system calls per
// connection: two duplicates, two runtime-poller registrations and one
// removal, address lookups and five socket options. The options are set
// once on the listening socket instead, which accepted sockets inherit
// (supervisor/sockets).
//
// What blocks (net/http reading an API request, a writer waiting for a slow
// client, a deadline) goes through a *net.TCPConn made the first time it is
// needed, so the rare paths pay what every connection paid before. That
// connection takes the descriptor over, unless the descriptor is pinned (a
// poller knows it by number): then it is made on a duplicate.
package rawsock

import (
	"errors"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Conn is a TCP socket on its descriptor: a net.Conn and a syscall.Conn,
// whose RawConn pins the descriptor while it is used.
//
// Lock story: state counts the callers using fd (a RawConn callback in
// progress) and says whether fd is gone (closed, or taken over by the
// blocking connection); whoever leaves the count at zero after Close
// closes fd, so a descriptor is never closed while in use nor used once its
// number could belong to another file. mu guards the blocking connection,
// which is made at most once, and pins.
type Conn struct {
	fd    int
	state atomic.Int64 // goneBit | users × userUnit

	// OnExhausted, when set, is called once before giving up on a
	// duplicate the descriptor table had no room for, and the duplicate
	// is tried again: the worker's reserve makes room (fdreserve).
	OnExhausted func()

	mu       sync.Mutex
	pins     int
	blocking *net.TCPConn
	closed   bool // Close ran: no blocking connection may be made
	// moved is the blocking connection once it took the descriptor over:
	// the RawConn then goes through it.
	moved atomic.Pointer[net.TCPConn]
}

const (
	goneBit  = 1
	userUnit = 2
)

// New takes ownership of fd, an open, non-blocking TCP socket.
func New(fd int) *Conn { return &Conn{fd: fd} }

// RawTCP marks a plain TCP socket for code that must tell it from other
// sockets with a descriptor (a Unix socket has SyscallConn and CloseWrite
// too).
func (c *Conn) RawTCP() {}

// use counts a caller of fd in; false once fd is gone.
func (c *Conn) use() bool {
	for {
		s := c.state.Load()
		if s&goneBit != 0 {
			return false
		}
		if c.state.CompareAndSwap(s, s+userUnit) {
			return true
		}
	}
}

// done counts a caller out; the last one after Close closes fd.
func (c *Conn) done() {
	if c.state.Add(-userUnit) == goneBit {
		_ = unix.Close(c.fd)
	}
}

// Pin says the descriptor is known by its number (registered with a
// poller): a blocking connection made from now on uses a duplicate and
// leaves the descriptor as it is. Unpin undoes one Pin.
func (c *Conn) Pin() {
	c.mu.Lock()
	c.pins++
	c.mu.Unlock()
}

func (c *Conn) Unpin() {
	c.mu.Lock()
	c.pins--
	c.mu.Unlock()
}

// ReadNow is one read(2) of the descriptor into p, for a caller that was
// told the socket is readable (an epoll poller): what SyscallConn's Read
// does when its function reads once, without a function to allocate.
// ok is false when the descriptor is gone; the caller then goes through
// SyscallConn, which says so.
func (c *Conn) ReadNow(p []byte) (n int, ok bool, err error) {
	if !c.use() {
		return 0, false, nil
	}
	n, err = unix.Read(c.fd, p)
	c.done()
	return n, true, err
}

// SyscallConn returns the descriptor's access for the pollers and flushers.
func (c *Conn) SyscallConn() (syscall.RawConn, error) { return (*rawConn)(c), nil }

// rawConn is a Conn's syscall.RawConn.
type rawConn Conn

// Control runs f with the descriptor, which stays open until f returns.
func (r *rawConn) Control(f func(fd uintptr)) error {
	c := (*Conn)(r)
	if c.use() {
		defer c.done()
		f(uintptr(c.fd))
		return nil
	}
	if b := c.moved.Load(); b != nil {
		rc, err := b.SyscallConn()
		if err != nil {
			return err
		}
		return rc.Control(f)
	}
	return net.ErrClosed
}

// Read runs f with the descriptor until f returns true; f returning false
// waits until the socket is readable (on the blocking connection).
func (r *rawConn) Read(f func(fd uintptr) bool) error { return (*Conn)(r).raw(f, true) }

// Write runs f with the descriptor until f returns true; f returning false
// waits until the socket is writable (on the blocking connection).
func (r *rawConn) Write(f func(fd uintptr) bool) error { return (*Conn)(r).raw(f, false) }

func (c *Conn) raw(f func(fd uintptr) bool, read bool) error {
	if c.use() {
		ok := f(uintptr(c.fd))
		c.done()
		if ok {
			return nil
		}
	} else if c.moved.Load() == nil {
		return net.ErrClosed
	}
	// Wait on the blocking connection: the same socket, so its readiness
	// in the runtime poller is this descriptor's.
	b, err := c.conn()
	if err != nil {
		return err
	}
	rc, err := b.SyscallConn()
	if err != nil {
		return err
	}
	again := func(fd uintptr) bool {
		if c.moved.Load() == b {
			return f(fd)
		}
		if !c.use() {
			return true // closed meanwhile: the blocking call fails next
		}
		defer c.done()
		return f(uintptr(c.fd))
	}
	if read {
		err = rc.Read(again)
	} else {
		err = rc.Write(again)
	}
	if err == nil && c.moved.Load() == nil && c.state.Load()&goneBit != 0 {
		return net.ErrClosed
	}
	return err
}

// conn returns the blocking connection, made on the first call: it takes
// the descriptor over when it is not pinned and not in use, else it is made
// on a duplicate.
func (c *Conn) conn() (*net.TCPConn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.blocking != nil {
		return c.blocking, nil
	}
	if c.closed {
		return nil, net.ErrClosed
	}
	if c.pins == 0 && c.state.CompareAndSwap(0, goneBit) {
		// net.FileConn makes its own duplicate; closing f closes fd.
		tc, err := c.fileConn(c.fd)
		if err != nil {
			return nil, err
		}
		c.blocking = tc
		c.moved.Store(tc)
		return tc, nil
	}
	var dup int
	err := c.retryExhausted(func() (err error) { dup, err = c.dup(); return err })
	if err != nil {
		return nil, os.NewSyscallError("dup", err)
	}
	tc, err := c.fileConn(dup)
	if err != nil {
		return nil, err
	}
	c.blocking = tc
	return tc, nil
}

// fileConn makes a *net.TCPConn of fd and closes fd.
func (c *Conn) fileConn(fd int) (*net.TCPConn, error) {
	f := os.NewFile(uintptr(fd), "tcp")
	var nc net.Conn
	err := c.retryExhausted(func() (err error) { nc, err = net.FileConn(f); return err })
	_ = f.Close()
	if err != nil {
		return nil, err
	}
	tc, ok := nc.(*net.TCPConn)
	if !ok {
		_ = nc.Close()
		return nil, errors.New("rawsock: not a TCP socket")
	}
	return tc, nil
}

// retryExhausted runs try, and once more after OnExhausted when the
// descriptor table had no room.
func (c *Conn) retryExhausted(try func() error) error {
	err := try()
	if err != nil && c.OnExhausted != nil && (errors.Is(err, unix.EMFILE) || errors.Is(err, unix.ENFILE)) {
		c.OnExhausted()
		err = try()
	}
	return err
}

func (c *Conn) dup() (int, error) {
	if !c.use() {
		return -1, net.ErrClosed
	}
	defer c.done()
	return unix.FcntlInt(uintptr(c.fd), unix.F_DUPFD_CLOEXEC, 0)
}

// Close closes the socket once no caller uses its descriptor any more,
// and the blocking connection if one was made. Later calls return
// net.ErrClosed.
func (c *Conn) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return net.ErrClosed
	}
	c.closed = true
	b := c.blocking
	c.mu.Unlock()
	if b != nil {
		_ = b.Close()
	}
	for {
		s := c.state.Load()
		if s&goneBit != 0 {
			return nil // taken over by b
		}
		if c.state.CompareAndSwap(s, s|goneBit) {
			if s == 0 {
				_ = unix.Close(c.fd)
			}
			return nil
		}
	}
}

// CloseWrite shuts down the sending side (the FIN after a close frame).
func (c *Conn) CloseWrite() error {
	var serr error
	if err := (*rawConn)(c).Control(func(fd uintptr) { serr = unix.Shutdown(int(fd), unix.SHUT_WR) }); err != nil {
		return err
	}
	if serr != nil {
		return os.NewSyscallError("shutdown", serr)
	}
	return nil
}

// Read reads on the blocking connection.
func (c *Conn) Read(p []byte) (int, error) {
	b, err := c.conn()
	if err != nil {
		return 0, err
	}
	return b.Read(p)
}

// Write writes on the blocking connection.
func (c *Conn) Write(p []byte) (int, error) {
	b, err := c.conn()
	if err != nil {
		return 0, err
	}
	return b.Write(p)
}

func (c *Conn) LocalAddr() net.Addr  { return c.addr(unix.Getsockname) }
func (c *Conn) RemoteAddr() net.Addr { return c.addr(unix.Getpeername) }

func (c *Conn) addr(get func(int) (unix.Sockaddr, error)) net.Addr {
	var sa unix.Sockaddr
	_ = (*rawConn)(c).Control(func(fd uintptr) { sa, _ = get(int(fd)) })
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return &net.TCPAddr{IP: append(net.IP(nil), sa.Addr[:]...), Port: sa.Port}
	case *unix.SockaddrInet6:
		a := &net.TCPAddr{IP: append(net.IP(nil), sa.Addr[:]...), Port: sa.Port}
		if sa.ZoneId != 0 {
			if ifi, err := net.InterfaceByIndex(int(sa.ZoneId)); err == nil {
				a.Zone = ifi.Name
			}
		}
		return a
	}
	return &net.TCPAddr{}
}

func (c *Conn) SetDeadline(t time.Time) error {
	b, err := c.conn()
	if err != nil {
		return err
	}
	return b.SetDeadline(t)
}

func (c *Conn) SetReadDeadline(t time.Time) error {
	b, err := c.conn()
	if err != nil {
		return err
	}
	return b.SetReadDeadline(t)
}

func (c *Conn) SetWriteDeadline(t time.Time) error {
	b, err := c.conn()
	if err != nil {
		return err
	}
	return b.SetWriteDeadline(t)
}
