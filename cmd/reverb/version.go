package main

import (
	"encoding/json"
	"flag"
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
	fs := flag.NewFlagSet("reverb version", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print a JSON object (version, commit, date, go, os, arch)")
	if code, done := parseOptionsOnly(fs, args, stderr); done {
		return code
	}
	info := buildinfo.Get()
	if *asJSON {
		b, _ := json.Marshal(info)
		fmt.Fprintf(stdout, "%s\n", b)
		return 0
	}
	fmt.Fprintf(stdout, "reverb %s\ncommit:  %s\nbuilt:   %s\ngo:      %s\nos/arch: %s/%s\n",
		info.Version, info.Commit, info.Date, info.Go, info.OS, info.Arch)
	return 0
}
