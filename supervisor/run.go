package supervisor

import (
	"strconv"

	"github.com/reverb-go/reverb/laravelcfg"
	"github.com/reverb-go/reverb/supervisor/console"
)

// Run executes `reverb start` and returns the process exit status.
func Run(c Config) int {
	c.defaults()
	con := console.New(c.Stdout)
	con.Configure(c.Colour, c.Quiet)
	if dir, inRelease, err := laravelcfg.ServingDir(c.Dir); err == nil {
		c.Dir, c.inRelease = dir, inRelease
		if inRelease {
			con.Infof("Serving %s: every restart reads the release it links to then", dir)
		}
	}
	var cleanup func()
	c.apps, cleanup = newAppsResolver(c, con) // apps only PHP can produce (phpapps.go)
	defer cleanup()
	return run(c, con)
}

func itoa(n int) string { return strconv.Itoa(n) }
