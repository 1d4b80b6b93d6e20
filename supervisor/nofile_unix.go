//go:build unix

package supervisor

import (
	"syscall"

	"github.com/reverb-go/reverb/supervisor/console"
)

// lowNoFile is the open-files limit under which `reverb start` warns: below
// it a busy server runs out of sockets long before CPU.
const lowNoFile = 10000

// warnLowNoFile warns when the open-files limit caps the connections this
// process can hold (the in-process runner: every connection in one
// process). Go raises the soft limit to what the system allows at
// start-up (on macOS up to kern.maxfilesperproc), so what is left is the
// real ceiling.
func warnLowNoFile(con *console.Writer) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return
	}
	if lim.Cur < lowNoFile {
		con.Warnf("Open files limit is %d (hard limit %d): %s; raise it (ulimit -n, LimitNOFILE=, launchctl limit maxfiles) to hold more connections",
			lim.Cur, lim.Max, oneProcessNote)
	}
}
