//go:build unix

package supervisor

import (
	"fmt"
	"runtime"
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
	if msg := lowNoFileWarning(runtime.GOOS, uint64(lim.Cur), uint64(lim.Max)); msg != "" {
		con.Warnf("%s", msg)
	}
}

// lowNoFileWarning is the start-up warning for a soft limit cur and a hard
// limit max on goos ("" when cur is not low), naming that system's
// settings: on macOS kern.maxfilesperproc and launchd cap what Go raises
// the soft limit to, and the hard limit is usually unlimited.
func lowNoFileWarning(goos string, cur, max uint64) string {
	if cur >= lowNoFile {
		return ""
	}
	hard := fmt.Sprint(max)
	if max >= 1<<62 {
		hard = "unlimited"
	}
	howTo := "ulimit -n, LimitNOFILE=, supervisor minfds="
	if goos == "darwin" {
		howTo = "kern.maxfilesperproc and launchctl limit maxfiles, then ulimit -n; ./reverb doctor prints the commands"
	}
	return fmt.Sprintf("Open files limit is %d (hard limit %s): %s; raise it (%s) to hold more connections", cur, hard, oneProcessNote, howTo)
}
