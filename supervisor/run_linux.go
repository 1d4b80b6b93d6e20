//go:build linux && !portable

package supervisor

import (
	"runtime"

	"github.com/reverb-go/reverb/supervisor/console"
	"github.com/reverb-go/reverb/supervisor/fdreserve"
)

// run picks the process model: N worker processes behind the supervisor,
// or (--workers 0) every connection served in this process by in-process
// generations (inprocess.go), which restart without downtime too.
func run(c Config, con *console.Writer) int {
	if c.Workers <= 0 {
		return runInProcess(c, con)
	}
	return runSupervisor(c, con)
}

// DefaultWorkers is the default --workers: one per CPU the Go runtime may
// use (GOMAXPROCS, which follows cgroup CPU limits), at least one. Measured
// on 2 cores (reverb-bench fanout, clients on the same machine): 1, 2 and 4
// workers deliver about the same (90k/98k/94k msg/s at 1000 subscribers ×
// 100 events/s), but 4 workers tripled the p99 latency at 3000 subscribers
// (250 ms vs 54/76 ms): more workers than cores only adds scheduling. One
// per core keeps every core usable under load, limits a crash to 1/N of the
// clients, and gives N open-files budgets.
func DefaultWorkers() int {
	n := runtime.GOMAXPROCS(0)
	if n < 1 {
		n = 1
	}
	return n
}

// DefaultWorkersNote says in --help why the default is what it is.
const DefaultWorkersNote = "one per CPU"

// oneProcessAdvice is the fix named when the one process of --workers 0
// is at its open-files limit: worker processes have no such wall.
func oneProcessAdvice(limit uint64) string {
	return fdreserve.Advice(limit) + "; or drop --workers 0: worker processes grow in number past the limit"
}

// oneProcessNote says, at start, what the open-files limit means for the
// one process of --workers 0.
const oneProcessNote = "with --workers 0 this one process serves every connection, so that is about the most it holds; worker processes (the default) grow in number past it"
