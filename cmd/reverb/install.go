package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/reverb-go/reverb/laravelcfg/installer"
)

func init() {
	register("install", "Add Reverb's .env lines and config/reverb.php (like php artisan reverb:install)", runInstall)
}

func runInstall(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("reverb install", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", ".", "the Laravel project root")
	dry := fs.Bool("dry-run", false, "show what would change without writing")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: reverb install [--dir DIR] [--dry-run]")
		fmt.Fprintln(stderr)
		fmt.Fprintln(stderr, "Appends the missing REVERB_* and VITE_REVERB_* lines to .env (creating .env from")
		fmt.Fprintln(stderr, ".env.example when missing), sets BROADCAST_CONNECTION=reverb, publishes")
		fmt.Fprintln(stderr, "config/reverb.php when missing and adds the reverb connection to a")
		fmt.Fprintln(stderr, "config/broadcasting.php without one. Existing values are never overwritten;")
		fmt.Fprintln(stderr, "running it again changes nothing.")
		fmt.Fprintln(stderr)
		fs.PrintDefaults()
	}
	if code, done := parseOptionsOnly(fs, args, stderr); done {
		return code
	}
	res, err := installer.Install(installer.Options{Dir: *dir, DryRun: *dry})
	if err != nil {
		fmt.Fprintf(stderr, "reverb install: %v\n", err)
		return 1
	}
	prefix := ""
	if *dry {
		prefix = "would have: "
	}
	for _, c := range res.Changes {
		fmt.Fprintf(stdout, "  %s%s\n", prefix, c)
	}
	for _, n := range res.Notes {
		fmt.Fprintf(stdout, "  note: %s\n", n)
	}
	switch {
	case *dry:
	case len(res.Changes) == 0:
		fmt.Fprintln(stdout, "\n   INFO  Reverb is already installed; nothing changed.")
	default:
		fmt.Fprintln(stdout, "\n   INFO  Reverb installed successfully.")
	}
	return 0
}
