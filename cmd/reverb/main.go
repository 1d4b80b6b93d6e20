// Command reverb is a drop-in replacement for Laravel Reverb: copy it into a
// Laravel project root and run `./reverb start`.
package main

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// command is one subcommand. Each lives in its own file and registers itself
// in an init function, so files can be added without touching this one.
type command struct {
	summary string
	// run gets the arguments after the subcommand name and returns the
	// process exit status.
	run func(args []string, stdout, stderr io.Writer) int
}

var commands = map[string]command{}

func register(name, summary string, run func(args []string, stdout, stderr io.Writer) int) {
	if _, dup := commands[name]; dup {
		panic("reverb: command registered twice: " + name)
	}
	commands[name] = command{summary: summary, run: run}
}

func main() {
	os.Exit(dispatch(os.Args[1:], os.Stdout, os.Stderr))
}

// leadingGlobal reports whether a, placed before the command name, is one
// of Artisan's global options (`php artisan -n reverb:start` works too).
func leadingGlobal(a string) bool {
	switch name, _, _ := strings.Cut(a, "="); name {
	case "-h", "--help", "-q", "--quiet", "--silent", "-n", "--no-interaction",
		"--ansi", "--no-ansi", "--env", "-v", "-vv", "-vvv", "--verbose":
		return true
	}
	return false
}

func dispatch(args []string, stdout, stderr io.Writer) int {
	var lead []string
	for len(args) > 0 && leadingGlobal(args[0]) {
		lead = append(lead, args[0])
		args = args[1:]
	}
	help := false
	for _, a := range lead {
		help = help || a == "-h" || a == "--help"
	}
	if len(args) == 0 {
		if help {
			usage(stdout)
			return 0
		}
		usage(stderr)
		return 2
	}
	name, rest := args[0], args[1:]
	if versionFlags[name] { // reverb --version, like php artisan --version
		name = "version"
	}
	if name == "help" {
		if len(rest) == 0 {
			usage(stdout)
			return 0
		}
		name, rest = rest[0], []string{"--help"}
	}
	cmd, ok := commands[name]
	if !ok {
		if strings.HasPrefix(name, "-") {
			fmt.Fprintf(stderr, "reverb: unknown option %s: give a command first\n\n", name)
		} else {
			fmt.Fprintf(stderr, "reverb: unknown command %q\n\n", name)
		}
		usage(stderr)
		return 2
	}
	return cmd.run(append(rest, lead...), stdout, stderr)
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "reverb: Laravel Reverb's server, in Go. Run it from your Laravel project's root folder.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Usage:")
	fmt.Fprintln(w, "  reverb <command> [options]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Available commands:")
	names := make([]string, 0, len(commands))
	width := 0
	for n := range commands {
		if n[0] != '_' { // internal commands start with "_"
			names = append(names, n)
			width = max(width, len(n))
		}
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-*s  %s\n", width, n, commands[n].summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Global options (every command, as in php artisan):")
	fmt.Fprintln(w, "  -h, --help  -q, --quiet  --silent  -v|vv|vvv  --ansi|--no-ansi  -n, --no-interaction  --env=ENV")
	fmt.Fprintln(w, "  -V, --version  this build's version (reverb version)")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Examples:")
	fmt.Fprintln(w, "  ./reverb install        add Reverb's .env lines and config/reverb.php")
	fmt.Fprintln(w, "  ./reverb start          start the server (php artisan reverb:start)")
	fmt.Fprintln(w, "  ./reverb doctor         check this machine and project before going live")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'reverb <command> --help' for a command's options and examples.")
}
