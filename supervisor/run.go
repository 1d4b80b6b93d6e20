package supervisor

import (
	"runtime"
	"strconv"

	"github.com/reverb-go/reverb/supervisor/console"
)

// Run executes `reverb start` and returns the process exit status.
func Run(c Config) int {
	c.defaults()
	con := console.New(c.Stdout)
	if c.Workers <= 0 {
		return runSingle(c, con)
	}
	return runSupervisor(c, con)
}

func itoa(n int) string { return strconv.Itoa(n) }

// DefaultWorkers is the default --workers: one per CPU the Go runtime may
// use, at least one.
func DefaultWorkers() int {
	n := runtime.GOMAXPROCS(0)
	if n < 1 {
		n = 1
	}
	return n
}
