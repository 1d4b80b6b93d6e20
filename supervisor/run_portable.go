//go:build !linux || portable

package supervisor

import (
	"fmt"
	"runtime"

	"github.com/reverb-go/reverb/supervisor/console"
	"github.com/reverb-go/reverb/supervisor/fdreserve"
)

// run serves every connection in this process (inprocess.go): --workers N
// is N in-process servers per generation on one bus, 0 the same as 1 but
// reported as a single server.
func run(c Config, con *console.Writer) int { return runInProcess(c, con) }

// DefaultWorkers is 1 on the portable path: one in-process server already
// uses every core, so more add no parallelism (see inprocess.go).
func DefaultWorkers() int { return 1 }

// DefaultWorkersNote says in --help why the default is what it is.
const DefaultWorkersNote = "one server in this process"

// oneProcessAdvice is the fix named when the process is at its open-files
// limit: here it serves every connection, so the limit is the wall.
func oneProcessAdvice(limit uint64) string { return oneProcessAdviceFor(runtime.GOOS, limit) }

// oneProcessAdviceFor names the settings of goos: on macOS launchd and
// kern.maxfilesperproc bound the limit (Go raises its own soft limit to
// them), not systemd or limits.conf.
func oneProcessAdviceFor(goos string, limit uint64) string {
	advice := fdreserve.Advice(limit)
	if goos == "darwin" {
		advice = fmt.Sprintf("each process may open %d files; raise kern.maxfilesperproc and launchctl limit maxfiles (sudo sysctl, sudo launchctl), "+
			"then ulimit -n in the terminal that starts reverb; reverb doctor prints the commands", limit)
	}
	return advice + "; this one process serves every connection on this system"
}

// oneProcessNote says, at start, what the open-files limit means here.
//
//lint:ignore U1000 said by warnLowNoFile, which Windows does not have (nofile_windows.go)
const oneProcessNote = "this one process serves every connection on this system, so that is about the most it holds"
