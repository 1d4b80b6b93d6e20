//go:build linux && !portable

package sockets

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Connection dispatch: the supervisor accepts every connection itself and
// passes each to one worker over a SOCK_SEQPACKET socketpair (SCM_RIGHTS),
// like Node's cluster module. Workers sharing a listening socket would each
// accept from it, but the kernel wakes them all and one process tends to win
// nearly every race, so a worker could end up with every WebSocket;
// dispatching spreads them evenly and lets a restart switch new connections
// to the new generation at one precise moment.
//
// Under a connection storm the supervisor accepts up to MaxBatch descriptors
// per wake-up with raw accept4 (no poller registration for a socket it only
// forwards) and sends each worker its share in one message.

// MaxBatch is the most descriptors accepted per wake-up and carried by one
// message (SCM_RIGHTS allows 253).
const MaxBatch = 64

// DispatchPair returns a connected SOCK_SEQPACKET pair: the supervisor's end
// and the worker's end as a file for ExtraFiles.
func DispatchPair() (*net.UnixConn, *os.File, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, err
	}
	parent := os.NewFile(uintptr(fds[0]), "dispatch")
	defer parent.Close()
	c, err := net.FileConn(parent)
	if err != nil {
		unix.Close(fds[1])
		return nil, nil, err
	}
	uc, ok := c.(*net.UnixConn)
	if !ok {
		c.Close()
		unix.Close(fds[1])
		return nil, nil, errors.New("dispatch socket is not a unix socket")
	}
	return uc, os.NewFile(uintptr(fds[1]), "dispatch-worker"), nil
}

// Acceptor takes connections off a listening socket as raw descriptors.
// A listener's own RawConn cannot wait for readability, so the Acceptor
// holds a non-blocking duplicate registered with the runtime poller; Close
// it as well as the listener.
type Acceptor struct {
	f      *os.File
	rc     syscall.RawConn
	closed atomic.Bool
}

// NewAcceptor duplicates ln's socket (a *net.TCPListener or *net.UnixListener).
func NewAcceptor(ln net.Listener) (*Acceptor, error) {
	sc, ok := ln.(syscall.Conn)
	if !ok {
		return nil, fmt.Errorf("cannot accept raw descriptors from a %T", ln)
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil, err
	}
	dup := -1
	var derr error
	if err := raw.Control(func(fd uintptr) { dup, derr = unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0) }); err != nil {
		return nil, err
	}
	if derr != nil {
		return nil, os.NewSyscallError("fcntl", derr)
	}
	if err := unix.SetNonblock(dup, true); err != nil {
		unix.Close(dup)
		return nil, err
	}
	f := os.NewFile(uintptr(dup), "listener") // non-blocking: uses the poller
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &Acceptor{f: f, rc: rc}, nil
}

// Close releases the duplicate; Accept then returns net.ErrClosed.
func (a *Acceptor) Close() error {
	a.closed.Store(true)
	return a.f.Close()
}

// Accept waits for at least one connection and returns up to MaxBatch of
// them, appended to fds[:0]. The caller owns (and must close) them. It
// returns net.ErrClosed once the Acceptor is closed.
func (a *Acceptor) Accept(fds []int) ([]int, error) {
	fds = fds[:0]
	var aerr error
	err := a.rc.Read(func(lfd uintptr) bool {
		for len(fds) < MaxBatch {
			nfd, _, err := unix.Accept4(int(lfd), unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK)
			switch {
			case err == nil:
				fds = append(fds, nfd)
			case err == unix.EAGAIN:
				return len(fds) > 0 // false: wait until readable
			case err == unix.EINTR || err == unix.ECONNABORTED:
			default:
				aerr = os.NewSyscallError("accept4", err)
				return true
			}
		}
		return true
	})
	if err != nil {
		if a.closed.Load() || errors.Is(err, os.ErrClosed) {
			err = net.ErrClosed
		}
		return fds, err
	}
	return fds, aerr
}

// SendFDs passes the descriptors over uc in one message. The caller still
// owns them and closes them afterwards (the worker holds duplicates).
func SendFDs(uc *net.UnixConn, fds []int, timeout time.Duration) error {
	if len(fds) == 0 {
		return nil
	}
	uc.SetWriteDeadline(time.Now().Add(timeout))
	_, _, err := uc.WriteMsgUnix([]byte{byte(len(fds))}, unix.UnixRights(fds...), nil)
	return err
}

// SendConn passes c's descriptor over uc. The caller still owns c.
func SendConn(uc *net.UnixConn, c net.Conn, timeout time.Duration) error {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return fmt.Errorf("cannot pass a %T to a worker", c)
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	var fd int
	if err := raw.Control(func(f uintptr) { fd = int(f) }); err != nil {
		return err
	}
	// c stays open (and fd valid) until the caller closes it after this.
	return SendFDs(uc, []int{fd}, timeout)
}

// DispatchListener is a worker's net.Listener: Accept returns the
// connections the supervisor passes. Close ends it; Flush ends it once the
// connections already sent are accepted.
//
// Lock story: mu serialises Accept callers (net/http has one) and guards
// pending, the descriptors received but not yet returned.
type DispatchListener struct {
	uc       *net.UnixConn
	addr     net.Addr
	flushing atomic.Bool
	once     sync.Once

	mu      sync.Mutex
	pending []int
	oob     []byte
}

// NewDispatchListener wraps the worker's end of the dispatch pair; addr is
// what Addr reports (the supervisor's listening address).
func NewDispatchListener(uc *net.UnixConn, addr net.Addr) *DispatchListener {
	return &DispatchListener{uc: uc, addr: addr, oob: make([]byte, unix.CmsgSpace(4*MaxBatch))}
}

// Accept returns the next connection the supervisor passed.
func (l *DispatchListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for {
		for len(l.pending) > 0 {
			fd := l.pending[0]
			l.pending = l.pending[1:]
			f := os.NewFile(uintptr(fd), "conn")
			c, err := net.FileConn(f)
			f.Close()
			if err == nil {
				return c, nil
			}
			// Not a socket after all: that one connection is lost, not the worker.
		}
		var buf [1]byte
		_, oobn, _, _, err := l.uc.ReadMsgUnix(buf[:], l.oob)
		if err != nil {
			if l.flushing.Load() || errors.Is(err, os.ErrDeadlineExceeded) {
				l.Close()
				return nil, net.ErrClosed
			}
			return nil, err
		}
		if oobn == 0 {
			l.Close()
			return nil, net.ErrClosed // supervisor gone (EOF)
		}
		fds, err := fdsFromRights(l.oob[:oobn])
		if err != nil {
			continue
		}
		l.pending = append(l.pending[:0], fds...)
	}
}

func fdsFromRights(oob []byte) ([]int, error) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, fmt.Errorf("dispatch: bad control message: %w", err)
	}
	var out []int
	for i := range msgs {
		fds, err := unix.ParseUnixRights(&msgs[i])
		if err != nil {
			continue
		}
		for _, fd := range fds {
			unix.CloseOnExec(fd)
		}
		out = append(out, fds...)
	}
	return out, nil
}

// Flush makes Accept return what is already queued, then stop: the
// supervisor sends nothing more to a draining worker, and everything it sent
// before is in the socket buffer by the time the drain order arrives.
func (l *DispatchListener) Flush(wait time.Duration) {
	l.flushing.Store(true)
	l.uc.SetReadDeadline(time.Now().Add(wait))
}

// Close stops Accept.
func (l *DispatchListener) Close() error {
	var err error
	l.once.Do(func() { err = l.uc.Close() })
	return err
}

// Addr is the supervisor's listening address.
func (l *DispatchListener) Addr() net.Addr { return l.addr }
