package supervisor

// Apps only PHP can produce (a custom reverb.apps.provider, or an apps list
// the safe evaluator cannot compute) come from `php artisan reverb:apps
// --json` (laravelcfg/phpapps). The processes of one server share the
// newest answer through a file in a private temporary folder the
// supervisor creates when it first gets one (phpapps.TempStore):
//
//   - at start and on every restart the supervisor runs the command once,
//     while it loads the config, and saves the answer; a failure at start
//     is fatal, a failure at a restart falls back to the newest saved answer
//     (with a warning) and the restart goes on;
//   - workers start from the saved answer (--apps-file) instead of running
//     PHP themselves, so N workers cost one PHP run per start or restart;
//   - at run time, a worker whose clients or API requests name an unknown
//     app runs the command itself, at most once per
//     server.DefaultRefreshInterval (server/apptable.go), and saves what it
//     found, so the next restart keeps apps learned at run time even when
//     the provider is failing then. Workers refresh independently: with N
//     workers, at most N runs per interval.

import (
	"context"

	"github.com/reverb-go/reverb/laravelcfg"
	"github.com/reverb-go/reverb/laravelcfg/phpapps"
	"github.com/reverb-go/reverb/supervisor/console"
)

// appsFileFlag names the shared answer a worker starts from.
const appsFileFlag = "--apps-file"

// newAppsResolver is the resolver `reverb start` loads the project with,
// and the cleanup that removes its shared answer.
func newAppsResolver(c Config, con *console.Writer) (laravelcfg.AppsResolver, func()) {
	store := &phpapps.TempStore{}
	r := &phpapps.Resolver{
		EnvName:      c.EnvName,
		KeepLastGood: true,
		Warn:         func(msg string) { con.Warnf("Restart: %s", msg) },
		Shared:       store,
	}
	return r, store.Remove
}

// workerAppsArgs are the arguments that point a worker at the shared answer
// (none when the apps do not need PHP).
func workerAppsArgs(r laravelcfg.AppsResolver) []string {
	pr, ok := r.(*phpapps.Resolver)
	if !ok {
		return nil
	}
	store, ok := pr.Shared.(*phpapps.TempStore)
	if !ok || store.Path() == "" {
		return nil
	}
	return []string{appsFileFlag, store.Path()}
}

// workerAppsResolver is what a worker loads the project with: the shared
// answer when the supervisor named one, else its own PHP run.
func workerAppsResolver(c Config) (laravelcfg.AppsResolver, error) {
	if c.appsFile == "" {
		return &phpapps.Resolver{EnvName: c.EnvName}, nil
	}
	b, err := phpapps.SharedFile(c.appsFile).Load()
	if err != nil {
		return nil, err
	}
	return phpapps.Static(b), nil
}

// appsRefresh is the server's source for apps it does not know yet: the
// same command, run by this process, its answer saved for the others (nil
// when the apps come from config).
func appsRefresh(p *laravelcfg.Project, c Config) func(context.Context) ([]laravelcfg.App, error) {
	if p.Reverb.AppsFromPHP == "" {
		return nil
	}
	run := phpapps.ForProject(p, c.EnvName)
	shared := phpapps.SharedFile(c.appsFile)
	return func(ctx context.Context) ([]laravelcfg.App, error) {
		apps, out, err := run.Apps(ctx)
		if err == nil {
			if serr := shared.Save(out); serr != nil && c.Stderr != nil {
				// Only the next restart's fallback loses; the apps are served.
				_, _ = c.Stderr.Write([]byte("reverb worker: " + serr.Error() + "\n"))
			}
		}
		return apps, err
	}
}
