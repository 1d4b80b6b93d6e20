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
// passes each to one worker over a SOCK_SEQPACKET socketpair (one message of
// one byte carrying one descriptor with SCM_RIGHTS), like Node's cluster
// module. Workers sharing a listening socket would each accept from it, but
// the kernel wakes them all and one process tends to win nearly every race,
// so a worker could end up with every WebSocket; dispatching spreads them
// evenly and lets a restart switch new connections to the new generation at
// one precise moment.

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

// SendConn passes c's descriptor over uc. The caller still owns c and
// closes it afterwards (the worker holds its own duplicate).
func SendConn(uc *net.UnixConn, c net.Conn, timeout time.Duration) error {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return fmt.Errorf("cannot pass a %T to a worker", c)
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	var rights []byte
	if err := raw.Control(func(fd uintptr) { rights = unix.UnixRights(int(fd)) }); err != nil {
		return err
	}
	uc.SetWriteDeadline(time.Now().Add(timeout))
	_, _, err = uc.WriteMsgUnix([]byte{'c'}, rights, nil)
	return err
}

// DispatchListener is a worker's net.Listener: Accept returns the
// connections the supervisor passes. Close ends it; Flush ends it once the
// connections already sent are accepted.
type DispatchListener struct {
	uc       *net.UnixConn
	addr     net.Addr
	flushing atomic.Bool
	once     sync.Once
}

// NewDispatchListener wraps the worker's end of the dispatch pair; addr is
// what Addr reports (the supervisor's listening address).
func NewDispatchListener(uc *net.UnixConn, addr net.Addr) *DispatchListener {
	return &DispatchListener{uc: uc, addr: addr}
}

// Accept receives the next connection.
func (l *DispatchListener) Accept() (net.Conn, error) {
	buf := make([]byte, 1)
	oob := make([]byte, unix.CmsgSpace(4))
	for {
		n, oobn, _, _, err := l.uc.ReadMsgUnix(buf, oob)
		if err != nil {
			if l.flushing.Load() || errors.Is(err, os.ErrDeadlineExceeded) {
				l.Close()
				return nil, net.ErrClosed
			}
			return nil, err
		}
		if n == 0 && oobn == 0 {
			l.Close()
			return nil, net.ErrClosed // supervisor gone
		}
		c, err := connFromRights(oob[:oobn])
		if err != nil {
			continue // a malformed message loses one connection, not the worker
		}
		return c, nil
	}
}

func connFromRights(oob []byte) (net.Conn, error) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil || len(msgs) != 1 {
		return nil, fmt.Errorf("dispatch: bad control message (%v)", err)
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		for _, fd := range fds {
			unix.Close(fd)
		}
		return nil, fmt.Errorf("dispatch: want one descriptor (%v)", err)
	}
	unix.CloseOnExec(fds[0])
	f := os.NewFile(uintptr(fds[0]), "conn")
	defer f.Close()
	return net.FileConn(f)
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
