//go:build linux

package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"
	"time"
)

// newTestURing sets up a ring or skips the test where io_uring is not
// available (no kernel support, or a seccomp profile that forbids it).
func newTestURing(t *testing.T, entries uint32) *uring {
	t.Helper()
	r, err := newURing(entries)
	if err != nil {
		t.Skip(uringUnavailable(err))
	}
	t.Cleanup(r.close)
	return r
}

// TestURingSendsToSockets sends the fan-out frame to a few loopback sockets
// through one ring, twice (the ring's indices move on), and reads it back
// whole on the other end of every socket.
func TestURingSendsToSockets(t *testing.T) {
	r := newTestURing(t, 8)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	const sockets = 5
	var fds []int
	var readers []net.Conn
	for range sockets {
		w, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		rd, err := l.Accept()
		if err != nil {
			t.Fatal(err)
		}
		defer rd.Close()
		readers = append(readers, rd)
		raw, err := w.(*net.TCPConn).SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		_ = raw.Control(func(fd uintptr) { fds = append(fds, int(fd)) })
	}
	frame := fanoutFrame()
	for round := 0; round < 2; round++ {
		res, err := r.sendAll(fds, frame)
		if err != nil {
			t.Fatal(err)
		}
		if res.ok != sockets || res.failed != 0 {
			t.Fatalf("round %d: %d sends whole, %d short or failed (last result %d)", round, res.ok, res.failed, res.lastBad)
		}
	}
	want := append(append([]byte(nil), frame...), frame...)
	for i, rd := range readers {
		got := make([]byte, len(want))
		_ = rd.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.ReadFull(rd, got); err != nil {
			t.Fatalf("socket %d: %v", i, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("socket %d received %q", i, got)
		}
	}
	if r.enters < 2 {
		t.Fatalf("%d io_uring_enter calls for 2 rounds", r.enters)
	}
	if _, err := r.sendAll(make([]int, 9), frame); err == nil {
		t.Fatal("9 sends fitted a ring of 8 entries")
	}
}

// TestURingSendFailureIsCounted sends to a descriptor that is not open: the
// send completes, as a failure carrying the error.
func TestURingSendFailureIsCounted(t *testing.T) {
	r := newTestURing(t, 4)
	res, err := r.sendAll([]int{-1}, fanoutFrame())
	if err != nil {
		t.Fatal(err)
	}
	if res.ok != 0 || res.failed != 1 || res.lastBad >= 0 {
		t.Fatalf("a send to fd -1: %+v", res)
	}
}

// TestURingCompareMeasures runs both phases on a few reader sockets in
// client processes, as the scenario does, and checks every frame arrived.
func TestURingCompareMeasures(t *testing.T) {
	r := newTestURing(t, 32)
	rr, err := openRawReaders(20, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer rr.close()
	w, u, err := uringCompare(rr, r, fanoutFrame(), 1, 2, 10, 5*time.Millisecond, false)
	if err != nil {
		t.Fatal(err)
	}
	if w.sends != 200 || u.sends != 200 || u.failed != 0 {
		t.Fatalf("write(2) %d sends, io_uring %d sends (%d failed)", w.sends, u.sends, u.failed)
	}
	if u.roundsRun != 12 || u.enters < u.roundsRun || len(u.toLast) != 10 {
		t.Fatalf("io_uring: %d rounds, %d enters, %d round times", u.roundsRun, u.enters, len(u.toLast))
	}
	if w.proc <= 0 || u.proc <= 0 || w.side.readers <= 0 || u.side.readers <= 0 {
		t.Fatalf("no CPU counted: write(2) %v (readers %v), io_uring %v (readers %v)",
			w.proc, w.side.readers, u.proc, u.side.readers)
	}
}

// TestURingCompareWithoutRing is the fallback where io_uring_setup fails:
// write(2) is measured alone, and the reason names the errno.
func TestURingCompareWithoutRing(t *testing.T) {
	got := uringUnavailable(fmt.Errorf("io_uring_setup: %w", syscall.EPERM))
	if want := "io_uring not available: EPERM (operation not permitted)"; got != want {
		t.Fatalf("%q, want %q", got, want)
	}
	rr, err := openRawReaders(10, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer rr.close()
	w, u, err := uringCompare(rr, nil, fanoutFrame(), 2, 1, 5, 5*time.Millisecond, false)
	if err != nil {
		t.Fatal(err)
	}
	if w.sends != 100 || u.sends != 0 || u.roundsRun != 0 {
		t.Fatalf("write(2) %d sends, io_uring %d sends in %d rounds", w.sends, u.sends, u.roundsRun)
	}
}
