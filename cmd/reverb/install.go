package main

import (
	"fmt"
	"io"

	"github.com/reverb-go/reverb/laravelcfg/installer"
)

func init() {
	register("install", "Add Reverb's .env lines and config/reverb.php (like php artisan reverb:install)", runInstall)
}

func runInstall(args []string, stdout, stderr io.Writer) int {
	dir := "."
	dry := false
	s := &spec{
		name:    "install",
		summary: "Add Reverb's .env lines and config/reverb.php (like php artisan reverb:install)",
		envHelp: "The environment to install into: writes .env.ENV when it exists, else .env (as php artisan reverb:install --env=ENV)",
		about: []string{
			"Appends the missing REVERB_* and VITE_REVERB_* lines to .env (creating .env from .env.example when it is missing), " +
				"sets BROADCAST_CONNECTION=reverb (BROADCAST_DRIVER on Laravel 10), publishes config/reverb.php when it is missing, " +
				"adds the reverb connection to a config/broadcasting.php without one and enables App\\Providers\\BroadcastServiceProvider " +
				"where config/app.php has it commented out (Laravel 10).",
			"With --env=ENV (or APP_ENV set in the environment) the lines go to .env.ENV when that file exists, the file Laravel loads then, as php artisan reverb:install does.",
			"Existing values are never overwritten: running it again changes nothing. " +
				"Echo and routes/channels.php remain php artisan install:broadcasting's job.",
		},
		examples: []string{
			"./reverb install",
			"./reverb install --dry-run    # show what would change",
			"./reverb install --env=staging    # into .env.staging",
		},
		opts: []option{
			{long: "dry-run", help: "Show what would change without writing anything", set: setSwitch(&dry)},
			{long: "dir", arg: "DIR", def: ".", help: "The Laravel project root", set: setNonEmpty(&dir, "folder")},
		},
	}
	return s.run(args, stdout, stderr, func(stdout, stderr io.Writer) int {
		if _, ok := checkRootOnly("install", dir, stderr); !ok {
			return 1
		}
		res, err := installer.Install(installer.Options{Dir: dir, DryRun: dry, EnvName: s.g.env})
		if err != nil {
			fmt.Fprintf(stderr, "reverb install: %v\n", err)
			return 1
		}
		prefix := ""
		if dry {
			prefix = "would have: "
		}
		for _, c := range res.Changes {
			fmt.Fprintf(stdout, "  %s%s\n", prefix, c)
		}
		for _, n := range res.Notes {
			fmt.Fprintf(stdout, "  note: %s\n", n)
		}
		switch {
		case dry:
		case len(res.Changes) == 0:
			fmt.Fprintln(stdout, "\n   INFO  Reverb is already installed; nothing changed.")
		default:
			fmt.Fprintln(stdout, "\n   INFO  Reverb installed successfully.")
		}
		return 0
	})
}
