//go:build linux

package main

import (
	"fmt"
	"io"
	"net"
	"runtime"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The kernel floor: what one small write to a loopback TCP socket costs the
// writing thread on this machine. On loopback the kernel runs the receiver's
// TCP processing (softirq) on the sender's CPU, so this is the least server
// CPU a delivery can cost when every message is its own write; a writev that
// carries k queued frames divides it by about k. The server's CPU per
// delivery at 1,000 subscribers × 100 events/s (no queueing, so no
// coalescing) is compared with it.

// floorResult is the CPU of the writing thread per call and per frame.
type floorResult struct {
	perCall, perFrame time.Duration
	calls             int
}

// loopbackFloor writes calls writes of frames frames (each frameLen bytes)
// round-robin over sockets loopback connections, drained by reader goroutines,
// and measures the writing thread's CPU time (RUSAGE_THREAD).
func loopbackFloor(sockets, calls, frames, frameLen int) (floorResult, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return floorResult{}, err
	}
	defer l.Close()
	var fds []int
	var keep []net.Conn // the Go side owns the sockets; fds are borrowed
	defer func() {
		for _, c := range keep {
			c.Close()
		}
	}()
	for i := 0; i < sockets; i++ {
		w, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			return floorResult{}, err
		}
		r, err := l.Accept()
		if err != nil {
			w.Close()
			return floorResult{}, err
		}
		keep = append(keep, w, r)
		// The reader goroutine ends when its socket is closed by the defer.
		go func() { _, _ = io.Copy(io.Discard, r) }()
		raw, err := w.(*net.TCPConn).SyscallConn()
		if err != nil {
			return floorResult{}, err
		}
		_ = raw.Control(func(fd uintptr) { fds = append(fds, int(fd)) })
	}
	frame := make([]byte, frameLen)
	iov := make([][]byte, frames)
	for i := range iov {
		iov[i] = frame
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cpu0 := threadCPU()
	done := 0
	for i := 0; i < calls; i++ {
		fd := fds[i%len(fds)]
		var err error
		if frames == 1 {
			_, err = syscall.Write(fd, frame)
		} else {
			_, err = unix.Writev(fd, iov)
		}
		if err == syscall.EAGAIN || err == unix.EAGAIN {
			time.Sleep(50 * time.Microsecond) // reader behind; not counted much
			continue
		}
		if err != nil {
			return floorResult{}, err
		}
		done++
	}
	cpu := threadCPU() - cpu0
	if done == 0 {
		return floorResult{}, fmt.Errorf("no write completed")
	}
	return floorResult{perCall: cpu / time.Duration(done), perFrame: cpu / time.Duration(done*frames), calls: done}, nil
}

func threadCPU() time.Duration {
	var ru syscall.Rusage
	const rusageThread = 1 // RUSAGE_THREAD
	if err := syscall.Getrusage(rusageThread, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func floorScenario(cfg config) error {
	calls := 200000
	if cfg.quick {
		calls = 40000
	}
	for _, c := range []struct{ sockets, frames int }{{1, 1}, {1000, 1}, {1000, 8}, {1000, 32}} {
		r, err := loopbackFloor(c.sockets, calls, c.frames, 150)
		if err != nil {
			return err
		}
		figure(fmt.Sprintf("loopback write, %d socket(s), %d×150 B frames/call: per call", c.sockets, c.frames),
			float64(r.perCall.Nanoseconds())/1000, "µs", nil)
		if c.frames > 1 {
			figure(fmt.Sprintf("loopback write, %d socket(s), %d frames/call: per frame", c.sockets, c.frames),
				float64(r.perFrame.Nanoseconds())/1000, "µs", nil)
		}
	}
	return nil
}
