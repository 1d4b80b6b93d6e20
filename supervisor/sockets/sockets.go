//go:build linux && !portable

// Package sockets holds the file-descriptor plumbing of the supervisor: the
// open-files limit, the listening socket (own or from systemd socket
// activation), and the descriptors a worker inherits.
package sockets

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"

	"github.com/reverb-go/reverb/supervisor/tcplisten"
	"golang.org/x/sys/unix"
)

// Descriptor numbers in a worker: os/exec puts ExtraFiles[i] at fd 3+i.
const (
	// DispatchFD is the SOCK_SEQPACKET socket the supervisor passes
	// accepted connections over (see dispatch.go).
	DispatchFD = 3
	// ControlFD is the worker's bus connection (supervisor/hub).
	ControlFD = 4
	// ListenerFD is where systemd puts the first activated socket.
	ListenerFD = 3
)

// RaiseNoFile raises the soft RLIMIT_NOFILE to the hard limit and returns
// the resulting limits. Children inherit it (each worker then has its own
// budget of that many descriptors).
func RaiseNoFile() (soft, hard uint64, err error) {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		return 0, 0, err
	}
	if lim.Cur < lim.Max {
		want := lim
		want.Cur = lim.Max
		if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &want); err != nil {
			return lim.Cur, lim.Max, err
		}
		lim = want
	}
	return lim.Cur, lim.Max, nil
}

// Activated returns the first socket systemd passed (LISTEN_PID/LISTEN_FDS,
// sd_listen_fds(3)), or nil when the process was not socket-activated. The
// variables are removed so workers do not take them for their own.
func Activated() (*os.File, error) {
	pid, fds := os.Getenv("LISTEN_PID"), os.Getenv("LISTEN_FDS")
	if pid == "" || fds == "" {
		return nil, nil
	}
	defer func() {
		os.Unsetenv("LISTEN_PID")
		os.Unsetenv("LISTEN_FDS")
		os.Unsetenv("LISTEN_FDNAMES")
	}()
	if p, err := strconv.Atoi(pid); err != nil || p != os.Getpid() {
		return nil, nil // meant for another process
	}
	n, err := strconv.Atoi(fds)
	if err != nil || n < 1 {
		return nil, fmt.Errorf("socket activation: LISTEN_FDS=%q: want at least one socket", fds)
	}
	unix.CloseOnExec(ListenerFD)
	return os.NewFile(ListenerFD, "systemd-socket"), nil
}

// Listen opens the listening socket: the systemd one when activated,
// otherwise a new TCP listener on addr with the options of
// servers.reverb.options.tcp (listen.go). It reports whether it came from
// systemd (whose .socket unit then sets the socket's options).
func Listen(addr string, o tcplisten.Options) (net.Listener, bool, error) {
	f, err := Activated()
	if err != nil {
		return nil, false, err
	}
	if f != nil {
		defer f.Close()
		ln, err := net.FileListener(f)
		if err != nil {
			return nil, false, fmt.Errorf("socket activation: fd %d is not a listening socket: %w", ListenerFD, err)
		}
		return ln, true, nil
	}
	ln, _, err := tcplisten.Listen(addr, o)
	if err != nil {
		return nil, false, err
	}
	return ln, false, nil
}

// Pair returns a connected unix stream socket pair: the supervisor's end as
// a net.Conn and the worker's end as a file for ExtraFiles (to be closed by
// the supervisor once the worker started).
func Pair() (net.Conn, *os.File, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, err
	}
	parent := os.NewFile(uintptr(fds[0]), "hub")
	defer parent.Close()
	conn, err := net.FileConn(parent)
	if err != nil {
		unix.Close(fds[1])
		return nil, nil, err
	}
	return conn, os.NewFile(uintptr(fds[1]), "hub-worker"), nil
}

// Inherited returns the dispatch socket and control connection a worker was
// started with.
func Inherited() (*net.UnixConn, net.Conn, error) {
	df := os.NewFile(DispatchFD, "dispatch")
	cf := os.NewFile(ControlFD, "control")
	if df == nil || cf == nil {
		return nil, nil, errors.New("worker started without its inherited descriptors")
	}
	defer df.Close()
	defer cf.Close()
	dc, err := net.FileConn(df)
	if err != nil {
		return nil, nil, fmt.Errorf("fd %d is not the dispatch socket: %w", DispatchFD, err)
	}
	uc, ok := dc.(*net.UnixConn)
	if !ok {
		dc.Close()
		return nil, nil, fmt.Errorf("fd %d is not the dispatch socket (%T)", DispatchFD, dc)
	}
	conn, err := net.FileConn(cf)
	if err != nil {
		uc.Close()
		return nil, nil, fmt.Errorf("fd %d is not the control socket: %w", ControlFD, err)
	}
	return uc, conn, nil
}
