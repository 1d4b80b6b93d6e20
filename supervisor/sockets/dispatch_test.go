//go:build linux && !portable

package sockets

import (
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// newDispatch is a listening socket, the supervisor's end of a dispatch
// pair and a worker's DispatchListener on the other end, all closed when
// the test ends.
func newDispatch(t *testing.T) (net.Listener, *net.UnixConn, *DispatchListener) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	sup, child, err := DispatchPair()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sup.Close() })
	wc, err := net.FileConn(child)
	child.Close()
	if err != nil {
		t.Fatal(err)
	}
	dl := NewDispatchListener(wc.(*net.UnixConn), ln.Addr())
	t.Cleanup(func() { dl.Close() })
	return ln, sup, dl
}

func TestDispatchPassesConnections(t *testing.T) {
	ln, sup, dl := newDispatch(t)
	if dl.Addr() != ln.Addr() {
		t.Fatal("Addr")
	}

	const n = 5
	clients := make([]net.Conn, n)
	for i := range clients {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		clients[i] = c
		a, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		if err := SendConn(sup, a, time.Second); err != nil {
			t.Fatal(err)
		}
		a.Close() // the worker holds its own copy
	}
	for i := range clients {
		c, err := dl.Accept()
		if err != nil {
			t.Fatal(err)
		}
		if c.RemoteAddr().String() != clients[i].LocalAddr().String() {
			t.Fatalf("connection %d: remote %v, want %v", i, c.RemoteAddr(), clients[i].LocalAddr())
		}
		c.Write([]byte{byte('a' + i)})
		c.Close()
		b, err := io.ReadAll(clients[i])
		if err != nil || string(b) != string(rune('a'+i)) {
			t.Fatalf("client %d read %q, %v", i, b, err)
		}
	}

	// Flush: what was sent before is still accepted, then Accept ends.
	c, _ := net.Dial("tcp", ln.Addr().String())
	defer c.Close()
	a, _ := ln.Accept()
	SendConn(sup, a, time.Second)
	a.Close()
	dl.Flush(100 * time.Millisecond)
	if got, err := dl.Accept(); err != nil {
		t.Fatalf("queued connection lost on flush: %v", err)
	} else {
		got.Close()
	}
	if _, err := dl.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept after flush = %v, want net.ErrClosed", err)
	}
}

func TestDispatchListenerEndsWhenSupervisorGoes(t *testing.T) {
	sup, child, err := DispatchPair()
	if err != nil {
		t.Fatal(err)
	}
	wc, _ := net.FileConn(child)
	child.Close()
	dl := NewDispatchListener(wc.(*net.UnixConn), nil)
	sup.Close()
	done := make(chan error, 1)
	go func() { _, err := dl.Accept(); done <- err }()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("Accept returned a connection")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Accept did not notice the supervisor closing")
	}
}

// Queue counts the connections waiting to be accepted, against the
// listen backlog.
func TestAcceptorQueue(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	acc, err := NewAcceptor(ln)
	if err != nil {
		t.Fatal(err)
	}
	defer acc.Close()
	if waiting, capacity, ok := acc.Queue(); !ok || waiting != 0 || capacity < 128 {
		t.Fatalf("empty queue: %d of %d (ok %v)", waiting, capacity, ok)
	}
	for i := 0; i < 3; i++ {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	if waiting, _, _ := acc.Queue(); waiting != 3 {
		t.Fatalf("%d connections waiting, want 3", waiting)
	}
	fds, err := acc.Accept(nil)
	if err != nil {
		t.Fatal(err)
	}
	closeAll(fds)
	if waiting, _, _ := acc.Queue(); waiting != 3-len(fds) {
		t.Fatalf("%d connections waiting after %d accepted, want %d", waiting, len(fds), 3-len(fds))
	}
}

func TestAcceptorBatchesAndSendFDs(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	acc, err := NewAcceptor(ln)
	if err != nil {
		t.Fatal(err)
	}
	const n = 5
	clients := make([]net.Conn, n)
	for i := range clients {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		clients[i] = c
	}
	var fds []int
	for len(fds) < n {
		got, err := acc.Accept(nil)
		if err != nil {
			t.Fatal(err)
		}
		fds = append(fds, got...)
	}
	// Accepted sockets carry the options Go sets on its own connections,
	// inherited from the listening socket: workers set nothing.
	for _, fd := range fds {
		for _, o := range []struct {
			name           string
			level, opt, is int
		}{
			{"TCP_NODELAY", unix.IPPROTO_TCP, unix.TCP_NODELAY, 1},
			{"SO_KEEPALIVE", unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1},
			{"TCP_KEEPIDLE", unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, 15},
			{"TCP_KEEPINTVL", unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, 15},
			{"TCP_KEEPCNT", unix.IPPROTO_TCP, unix.TCP_KEEPCNT, 9},
		} {
			if v, err := unix.GetsockoptInt(fd, o.level, o.opt); err != nil || v != o.is {
				t.Fatalf("accepted socket: %s = %d, %v; want %d", o.name, v, err, o.is)
			}
		}
	}
	sup, child, err := DispatchPair()
	if err != nil {
		t.Fatal(err)
	}
	defer sup.Close()
	wc, _ := net.FileConn(child)
	child.Close()
	dl := NewDispatchListener(wc.(*net.UnixConn), ln.Addr())
	defer dl.Close()
	if err := SendFDs(sup, fds, time.Second); err != nil {
		t.Fatal(err)
	}
	for _, fd := range fds {
		syscall.Close(fd)
	}
	seen := map[string]bool{}
	for range n {
		c, err := dl.Accept()
		if err != nil {
			t.Fatal(err)
		}
		seen[c.RemoteAddr().String()] = true
		c.Close()
	}
	for _, c := range clients {
		if !seen[c.LocalAddr().String()] {
			t.Fatalf("client %v not passed", c.LocalAddr())
		}
	}
	ln.Close()
	acc.Close()
	if _, err := acc.Accept(nil); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept on a closed listener = %v, want net.ErrClosed", err)
	}
}

func closeAll(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}

// A worker's connections must not leak into what it starts (a PHP process
// for a custom app provider): the descriptors it receives are
// close-on-exec without a fcntl(2) of its own.
func TestReceivedDescriptorsCloseOnExec(t *testing.T) {
	ln, sup, dl := newDispatch(t)
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	a, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	if err := SendConn(sup, a, time.Second); err != nil {
		t.Fatal(err)
	}
	a.Close()
	got, err := dl.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer got.Close()
	raw, err := got.(syscall.Conn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var flags int
	var ferr error
	if err := raw.Control(func(fd uintptr) { flags, ferr = unix.FcntlInt(fd, unix.F_GETFD, 0) }); err != nil || ferr != nil {
		t.Fatal(err, ferr)
	}
	if flags&unix.FD_CLOEXEC == 0 {
		t.Fatal("a received connection is not close-on-exec")
	}
}
