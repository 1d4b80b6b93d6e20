package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/reverb-go/reverb/internal/buildinfo"
)

func init() {
	register("version", "Show the version, commit, Go version and OS/architecture of this build", runVersion)
}

// versionFlags are the top-level spellings of `reverb version`: --version as
// in `php artisan --version`, and -V, its short form in Symfony Console.
var versionFlags = map[string]bool{"--version": true, "-version": true, "-V": true}

// runVersion prints the build. The first line reads like
// `php artisan --version` ("Laravel Framework 11.33.2"): the name and the
// version, so `reverb --version | head -1` is what a script compares; the
// rest is one "key: value" line each. --json prints the same as one object
// (version, commit, date, go, os, arch).
func runVersion(args []string, stdout, stderr io.Writer) int {
	asJSON := false
	s := &spec{
		name:    "version",
		summary: "Show the version, commit, Go version and OS/architecture of this build",
		envHelp: "Accepted as artisan accepts it; the version does not depend on it",
		about:   []string{"The first line is the name and the version (what a script compares); --version and -V before any command do the same."},
		examples: []string{
			"./reverb version",
			"./reverb --version | head -1",
			"./reverb version --json",
		},
		opts: []option{
			{long: "json", help: "Print a JSON object (version, commit, date, go, os, arch)", set: setSwitch(&asJSON)},
		},
	}
	return s.run(args, stdout, stderr, func(stdout, _ io.Writer) int {
		info := buildinfo.Get()
		if asJSON {
			b, _ := json.Marshal(info)
			fmt.Fprintf(stdout, "%s\n", b)
			return 0
		}
		fmt.Fprintf(stdout, "reverb %s\ncommit:  %s\nbuilt:   %s\ngo:      %s\nos/arch: %s/%s\n",
			info.Version, info.Commit, info.Date, info.Go, info.OS, info.Arch)
		return 0
	})
}
