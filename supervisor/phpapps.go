package supervisor

// Apps only PHP can produce (a custom reverb.apps.provider, or an apps list
// the safe evaluator cannot compute) come from `php artisan reverb:apps
// --json` (laravelcfg/phpapps):
//
//   - at start and on every restart the supervisor runs it once, while it
//     loads the config; a failure at start is fatal, a failure at a restart
//     keeps the last good apps (with a warning) and the restart goes on;
//   - each worker of the new generation gets that answer on its stdin
//     (--apps-stdin) instead of running PHP itself, so N workers cost one
//     PHP run per start or restart;
//   - at run time, a worker whose clients or API requests name an unknown
//     app runs it again itself, at most once per server.DefaultRefreshInterval
//     (server/apptable.go). Workers do this independently: with N workers at
//     most N runs per interval.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"

	"github.com/reverb-go/reverb/laravelcfg"
	"github.com/reverb-go/reverb/laravelcfg/phpapps"
	"github.com/reverb-go/reverb/supervisor/console"
)

// appsStdinFlag tells a worker to read the apps JSON from its stdin.
const appsStdinFlag = "--apps-stdin"

// maxAppsStdin bounds what a worker reads from its stdin.
const maxAppsStdin = 64 << 20

// newAppsResolver is the resolver `reverb start` loads the project with.
func newAppsResolver(c Config, con *console.Writer) laravelcfg.AppsResolver {
	return &phpapps.Resolver{
		EnvName:      c.EnvName,
		KeepLastGood: true,
		Warn:         func(msg string) { con.Warnf("Restart: %s", msg) },
	}
}

// passApps hands the supervisor's last apps answer to a worker it is about
// to start (none when the apps do not need PHP).
func passApps(cmd *exec.Cmd, r laravelcfg.AppsResolver) {
	pr, ok := r.(*phpapps.Resolver)
	if !ok {
		return
	}
	if js := pr.LastJSON(); js != nil {
		cmd.Args = append(cmd.Args, appsStdinFlag)
		cmd.Stdin = bytes.NewReader(js)
	}
}

// workerAppsResolver is what a worker loads the project with: the answer
// on stdin when the supervisor passed one, else its own PHP run.
func workerAppsResolver(c Config, fromStdin bool, stdin io.Reader) (laravelcfg.AppsResolver, error) {
	if !fromStdin {
		return &phpapps.Resolver{EnvName: c.EnvName}, nil
	}
	b, err := io.ReadAll(io.LimitReader(stdin, maxAppsStdin))
	if err != nil {
		return nil, fmt.Errorf("reading the apps from the supervisor: %w", err)
	}
	return phpapps.Static(b), nil
}

// appsRefresh is the server's source for apps it does not know yet: the
// same command, run by this process (nil when the apps come from config).
func appsRefresh(p *laravelcfg.Project, c Config) func(context.Context) ([]laravelcfg.App, error) {
	if p.Reverb.AppsFromPHP == "" {
		return nil
	}
	run := phpapps.ForProject(p, c.EnvName)
	return func(ctx context.Context) ([]laravelcfg.App, error) {
		apps, _, err := run.Apps(ctx)
		return apps, err
	}
}
