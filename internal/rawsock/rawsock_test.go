//go:build unix

package rawsock

import (
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// pair returns a rawsock.Conn on the accepted end of a loopback TCP
// connection, and the dialled end.
func pair(t *testing.T) (*Conn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	peer, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { peer.Close() })
	ac, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	f, err := ac.(*net.TCPConn).File()
	ac.Close()
	if err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Dup(int(f.Fd()))
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		t.Fatal(err)
	}
	c := New(fd)
	t.Cleanup(func() { c.Close() })
	return c, peer
}

func open(fd int) bool {
	_, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	return err == nil
}

func TestRawReadWrite(t *testing.T) {
	c, peer := pair(t)
	rc, _ := c.SyscallConn()
	var werr error
	if err := rc.Write(func(fd uintptr) bool {
		_, werr = unix.Write(int(fd), []byte("ping"))
		return true
	}); err != nil || werr != nil {
		t.Fatal(err, werr)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(peer, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("peer read %q %v", buf, err)
	}
	// A callback returning false waits until the socket is readable.
	go func() {
		time.Sleep(50 * time.Millisecond)
		peer.Write([]byte("pong"))
	}()
	var n int
	if err := rc.Read(func(fd uintptr) bool {
		var rerr error
		n, rerr = unix.Read(int(fd), buf)
		return rerr != unix.EAGAIN
	}); err != nil || string(buf[:n]) != "pong" {
		t.Fatalf("read %q %v", buf[:n], err)
	}
}

func TestBlockingConnAndDeadline(t *testing.T) {
	c, peer := pair(t)
	if _, err := c.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5)
	if _, err := io.ReadFull(peer, buf); err != nil || string(buf) != "hello" {
		t.Fatalf("peer read %q %v", buf, err)
	}
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	if _, err := c.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read past deadline: %v", err)
	}
	if got, want := c.RemoteAddr().String(), peer.LocalAddr().String(); got != want {
		t.Fatalf("remote %s, want %s", got, want)
	}
	if got, want := c.LocalAddr().String(), peer.RemoteAddr().String(); got != want {
		t.Fatalf("local %s, want %s", got, want)
	}
}

// Close while a callback uses the descriptor: it stays open until the
// callback returns, then closes; nothing uses it afterwards.
func TestCloseWaitsForUsers(t *testing.T) {
	c, _ := pair(t)
	rc, _ := c.SyscallConn()
	fd := c.fd
	inside := make(chan struct{})
	release := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- rc.Control(func(uintptr) {
			close(inside)
			<-release
		})
	}()
	<-inside
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if !open(fd) {
		t.Fatal("descriptor closed while a callback used it")
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if open(fd) {
		t.Fatal("descriptor still open after its last user")
	}
	if err := rc.Control(func(uintptr) { t.Error("callback after Close") }); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Control after Close: %v", err)
	}
	if err := c.Close(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := c.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Write after Close: %v", err)
	}
}

// Close also closes the blocking duplicate, which releases a blocked read.
func TestCloseReleasesBlockingRead(t *testing.T) {
	c, _ := pair(t)
	errc := make(chan error, 1)
	go func() {
		_, err := c.Read(make([]byte, 1))
		errc <- err
	}()
	time.Sleep(50 * time.Millisecond)
	c.Close()
	select {
	case err := <-errc:
		if err == nil {
			t.Fatal("read returned no error")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("read still blocked after Close")
	}
}

func TestCloseWrite(t *testing.T) {
	c, peer := pair(t)
	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	_ = peer.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := peer.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("peer read after CloseWrite: %v", err)
	}
}

// Unpinned, the blocking connection takes the descriptor over: the socket
// holds one descriptor, and the RawConn goes on working through it.
func TestBlockingTakesOver(t *testing.T) {
	c, peer := pair(t)
	fd := c.fd
	if _, err := c.Write([]byte("a")); err != nil {
		t.Fatal(err)
	}
	if open(fd) {
		t.Fatal("the bare descriptor is still open beside the blocking connection")
	}
	rc, _ := c.SyscallConn()
	var werr error
	if err := rc.Write(func(f uintptr) bool {
		_, werr = unix.Write(int(f), []byte("b"))
		return true
	}); err != nil || werr != nil {
		t.Fatal(err, werr)
	}
	buf := make([]byte, 2)
	if _, err := io.ReadFull(peer, buf); err != nil || string(buf) != "ab" {
		t.Fatalf("peer read %q %v", buf, err)
	}
	c.Close()
	if _, err := peer.Read(buf); err != io.EOF {
		t.Fatalf("peer read after Close: %v", err)
	}
}

// Pinned (a poller knows the descriptor), the blocking connection is a
// duplicate and the descriptor stays; Close closes both.
func TestBlockingWhilePinned(t *testing.T) {
	c, peer := pair(t)
	fd := c.fd
	c.Pin()
	if _, err := c.Write([]byte("a")); err != nil {
		t.Fatal(err)
	}
	if !open(fd) {
		t.Fatal("a pinned descriptor was taken over")
	}
	rc, _ := c.SyscallConn()
	var used uintptr
	_ = rc.Control(func(f uintptr) { used = f })
	if int(used) != fd {
		t.Fatalf("RawConn gave descriptor %d, want the pinned %d", used, fd)
	}
	buf := make([]byte, 1)
	if _, err := io.ReadFull(peer, buf); err != nil || string(buf) != "a" {
		t.Fatalf("peer read %q %v", buf, err)
	}
	c.Unpin()
	c.Close()
	if open(fd) {
		t.Fatal("descriptor open after Close")
	}
	if _, err := peer.Read(buf); err != io.EOF {
		t.Fatalf("peer read after Close: %v", err)
	}
}

// ReadNow reads the descriptor once, EAGAIN when nothing waits, and says
// not ok once the Conn is closed.
func TestReadNow(t *testing.T) {
	c, peer := pair(t)
	buf := make([]byte, 16)
	if _, ok, err := c.ReadNow(buf); !ok || err != unix.EAGAIN {
		t.Fatalf("nothing sent: %v %v", err, ok)
	}
	peer.Write([]byte("ping"))
	deadline := time.Now().Add(5 * time.Second)
	for {
		n, ok, err := c.ReadNow(buf)
		if ok && err == nil && string(buf[:n]) == "ping" {
			break
		}
		if !ok || err != unix.EAGAIN || time.Now().After(deadline) {
			t.Fatalf("read %q %v %v", buf[:n], err, ok)
		}
		time.Sleep(time.Millisecond)
	}
	c.Close()
	if _, ok, _ := c.ReadNow(buf); ok {
		t.Fatal("read a closed Conn's descriptor")
	}
}
