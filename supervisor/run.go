package supervisor

import (
	"strconv"

	"github.com/reverb-go/reverb/supervisor/console"
)

// Run executes `reverb start` and returns the process exit status.
func Run(c Config) int {
	c.defaults()
	return run(c, console.New(c.Stdout))
}

func itoa(n int) string { return strconv.Itoa(n) }
