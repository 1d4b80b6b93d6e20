//go:build linux

package tcplisten

import (
	"net"
	"strconv"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// backlogOf reads a listening socket's accept queue length: Linux reports
// it as tcpi_sacked of a listener.
func backlogOf(t *testing.T, ln net.Listener) uint32 {
	t.Helper()
	raw, err := ln.(syscall.Conn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var info *unix.TCPInfo
	var gerr error
	raw.Control(func(fd uintptr) { info, gerr = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO) })
	if gerr != nil {
		t.Fatal(gerr)
	}
	return info.Sacked
}

func TestBacklog(t *testing.T) {
	ln, unsupported, err := Listen("127.0.0.1:0", Options{Backlog: 77})
	if err != nil || len(unsupported) != 0 {
		t.Fatal(err, unsupported)
	}
	defer ln.Close()
	if got := backlogOf(t, ln); got != 77 {
		t.Errorf("backlog %d, want 77", got)
	}
	def, _, err := Listen("127.0.0.1:0", Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer def.Close()
	if got := backlogOf(t, def); got <= 77 {
		t.Errorf("default backlog %d: want the system maximum", got)
	}
}

func TestReusePort(t *testing.T) {
	a, _, err := Listen("127.0.0.1:0", Options{ReusePort: true})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, _, err := Listen(a.Addr().String(), Options{ReusePort: true})
	if err != nil {
		t.Fatalf("second listener on %s with so_reuseport: %v", a.Addr(), err)
	}
	b.Close()
	if c, _, err := Listen(a.Addr().String(), Options{}); err == nil {
		c.Close()
		t.Fatal("a listener without so_reuseport bound a taken port")
	}
}

func TestIPv6Only(t *testing.T) {
	probe, err := net.Listen("tcp", "[::]:0")
	if err != nil {
		t.Skip("no IPv6 here:", err)
	}
	probe.Close()
	yes, no := true, false
	for _, tc := range []struct {
		v6only   *bool
		v4Accept bool
	}{{&yes, false}, {&no, true}, {nil, true}} {
		ln, _, err := Listen("[::]:0", Options{IPv6Only: tc.v6only})
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		c, err := net.DialTimeout("tcp4", net.JoinHostPort("127.0.0.1", itoa(port)), 2*time.Second)
		if c != nil {
			c.Close()
		}
		if (err == nil) != tc.v4Accept {
			t.Errorf("ipv6_v6only %v: IPv4 dial error %v", tc.v6only, err)
		}
		ln.Close()
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestDeferAccept: a connection is handed to accept(2) once its first
// bytes arrive, and one that sends nothing is still accepted a little
// later, not lost.
func TestDeferAccept(t *testing.T) {
	ln, _, err := Listen("127.0.0.1:0", Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	raw, _ := ln.(syscall.Conn).SyscallConn()
	var secs int
	var gerr error
	raw.Control(func(fd uintptr) { secs, gerr = unix.GetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_DEFER_ACCEPT) })
	if gerr != nil || secs <= 0 {
		t.Fatalf("TCP_DEFER_ACCEPT = %d (%v): want it set", secs, gerr)
	}

	accepted := make(chan net.Conn, 2)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	silent, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	select {
	case c := <-accepted:
		c.Close()
		t.Fatal("a connection that sent nothing was accepted at once")
	case <-time.After(200 * time.Millisecond):
	}
	talker, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer talker.Close()
	if _, err := talker.Write([]byte("GET / HTTP/1.1\r\n")); err != nil {
		t.Fatal(err)
	}
	select {
	case c := <-accepted:
		defer c.Close()
		if c.RemoteAddr().String() != talker.LocalAddr().String() {
			t.Fatalf("accepted %s first, want the one that wrote (%s)", c.RemoteAddr(), talker.LocalAddr())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a connection that wrote was not accepted")
	}
	select {
	case c := <-accepted:
		c.Close()
	case <-time.After(10 * time.Second):
		t.Fatal("a connection that sent nothing was never accepted")
	}
}
