//go:build linux && !portable

package supervisor

import (
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

// DefaultWorkers is the default --workers: one. One Go process already
// uses every CPU (a poller and a flusher per CPU), and the pool adds a
// worker by itself as each nears its open-files limit (pool.go), so more
// workers at start buy crash isolation (a worker that dies drops only its
// own connections), not capacity. They cost CPU: measured on 2 CPUs with
// the clients on the same machine (reverb-bench), one worker per CPU spent
// 1.12–1.32× the CPU per delivery of one worker at 1,000 subscribers ×
// 100 events/s (a profile of the same shape, every path ~20 % dearer: two
// processes sending at once on cores the readers need too), delivered
// 1.64–1.71 M/s at the ceiling against 1.82–1.98 M/s, and bursts to 10,000
// subscribers and connect storms were within run-to-run noise of one
// worker. Reverb, too, is one process.
func DefaultWorkers() int { return 1 }

// DefaultWorkersNote says in --help why the default is what it is.
const DefaultWorkersNote = "one process uses every CPU, and the pool grows as workers fill"

// oneProcessAdvice is the fix named when the one process of --workers 0
// is at its open-files limit: worker processes have no such wall.
func oneProcessAdvice(limit uint64) string {
	return fdreserve.Advice(limit) + "; or drop --workers 0: worker processes grow in number past the limit"
}

// oneProcessNote says, at start, what the open-files limit means for the
// one process of --workers 0.
const oneProcessNote = "with --workers 0 this one process serves every connection, so that is about the most it holds; worker processes (the default) grow in number past it"
