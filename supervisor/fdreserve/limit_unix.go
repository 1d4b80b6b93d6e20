//go:build unix

package fdreserve

import "syscall"

// CurrentLimit is this process's soft open-files limit now (0 when
// unreadable).
func CurrentLimit() uint64 {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0
	}
	return uint64(lim.Cur)
}
