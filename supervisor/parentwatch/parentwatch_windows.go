//go:build windows

package parentwatch

import (
	"errors"
	"fmt"

	"golang.org/x/sys/windows"
)

// watch waits on the process handle, a quarter second at a time so that
// done is noticed. Windows does not re-parent orphans, so the handle, not
// the parent id, tells.
func watch(pid int, done <-chan struct{}) (<-chan struct{}, error) {
	gone := make(chan struct{})
	h, err := windows.OpenProcess(windows.SYNCHRONIZE, false, uint32(pid))
	if errors.Is(err, windows.ERROR_INVALID_PARAMETER) { // no such process: exited already
		close(gone)
		return gone, nil
	}
	if err != nil {
		return nil, fmt.Errorf("process %d: %w", pid, err)
	}
	go func() {
		defer windows.CloseHandle(h)
		for {
			ev, err := windows.WaitForSingleObject(h, uint32(pollInterval.Milliseconds()))
			if err != nil {
				return // a handle that cannot be waited on: not watched
			}
			if ev == windows.WAIT_OBJECT_0 {
				close(gone)
				return
			}
			select {
			case <-done:
				return
			default:
			}
		}
	}()
	return gone, nil
}
