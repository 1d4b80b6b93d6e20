//go:build !windows

package parentwatch

import (
	"errors"
	"os"
	"syscall"
	"time"
)

// watch polls: when pid is this process's parent, a change of parent (the
// orphan is adopted by init or a subreaper) says it exited, even while it
// is a zombie nobody has reaped; otherwise (a wrapper script between
// artisan and the server) the process's existence does.
func watch(pid int, done <-chan struct{}) (<-chan struct{}, error) {
	isParent := os.Getppid() == pid
	alive := func() bool {
		if isParent {
			return os.Getppid() == pid
		}
		return !errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
	}
	gone := make(chan struct{})
	if !alive() {
		close(gone)
		return gone, nil
	}
	go func() {
		t := time.NewTicker(pollInterval)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if !alive() {
					close(gone)
					return
				}
			}
		}
	}()
	return gone, nil
}
