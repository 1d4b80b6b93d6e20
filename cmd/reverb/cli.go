package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// Command-line parsing and help, one style for every command: long options
// written --name=value or --name value, Artisan's global options accepted
// everywhere, help laid out like `php artisan help <command>` with defaults
// and examples. The standard flag package is not used because its help
// prints single-dash flags and it cannot express -vv or --no-ansi.

// option is one command-line option: what it parses into and how its help
// line reads.
type option struct {
	long   string // without dashes: "workers"
	short  byte   // one-letter alias ('q'); 0 when none
	arg    string // value placeholder ("N", "DIR"); "" for a switch
	optArg bool   // the value may be left out (--json[=KEY])
	def    string // shown as [default: …]; "" shows nothing
	help   string
	hidden bool // accepted but not listed (internal or test-only)
	// set receives the value ("" for a switch, or for an optional value
	// left out). An error is shown after the option's name.
	set func(value string) error
}

// globals are Artisan's global options, accepted by every command so a
// command line copied from Forge, Envoyer or a supervisor config works.
type globals struct {
	help          bool
	quiet         bool // -q: only errors are printed
	silent        bool // --silent: nothing is printed
	verbosity     int  // -v 1, -vv 2, -vvv 3
	noInteraction bool // -n: we never ask anyway
	ansi          *bool
	env           string // --env=NAME selects .env.NAME
}

// spec is a command's options and help text.
type spec struct {
	name     string // "start"
	summary  string // one line, also in `reverb` help
	usage    string // after "reverb <name> "; default "[options]"
	about    []string
	examples []string
	opts     []option
	// envHelp replaces --env's help line, for a command that reads no
	// .env and accepts --env only so an artisan command line works.
	envHelp string
	// ownQuiet: the command applies -q itself (start keeps printing errors
	// to stdout, where its log goes), so run leaves stdout open.
	ownQuiet bool
	g        globals
}

// usageError is bad command-line input: exit status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...)}
}

// globalOptions are listed after each command's own options.
func (s *spec) globalOptions() []option {
	g := &s.g
	opts := []option{
		{long: "help", short: 'h', help: "Display help for this command", set: func(string) error { g.help = true; return nil }},
		{long: "silent", help: "Do not output any message", set: func(string) error { g.silent = true; return nil }},
		{long: "quiet", short: 'q', help: "Only errors are displayed. All other output is suppressed", set: func(string) error { g.quiet = true; return nil }},
		{long: "ansi", help: "Force (or disable --no-ansi) ANSI output", set: func(string) error { t := true; g.ansi = &t; return nil }},
		{long: "no-ansi", hidden: true, set: func(string) error { f := false; g.ansi = &f; return nil }},
		{long: "no-interaction", short: 'n', help: "Do not ask any interactive question (reverb never asks)", set: func(string) error { g.noInteraction = true; return nil }},
	}
	envHelp := s.envHelp
	if envHelp == "" {
		envHelp = "The environment the command should run under (loads .env.ENV when it exists)"
	}
	opts = append(opts, option{long: "env", arg: "ENV", help: envHelp,
		set: func(v string) error { g.env = v; return nil }})
	opts = append(opts, option{long: "verbose", short: 'v', arg: "LEVEL", optArg: true,
		help: "Increase the verbosity of messages: -v, -vv or -vvv",
		set: func(v string) error {
			if v == "" {
				g.verbosity = max(g.verbosity, 1)
				return nil
			}
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 3 {
				return errors.New("not a verbosity level (1, 2 or 3)")
			}
			g.verbosity = n
			return nil
		}})
	return opts
}

func (s *spec) all() []option { return append(append([]option(nil), s.opts...), s.globalOptions()...) }

func (s *spec) find(name string, short bool) *option {
	opts := s.all()
	for i := range opts {
		o := &opts[i]
		if short && len(name) == 1 && o.short == name[0] {
			return o
		}
		if !short && o.long == name {
			return o
		}
	}
	return nil
}

// parse reads args into the options; positional arguments are refused.
// --help stops parsing at once, so `reverb start --workers=-3 --help`
// still shows the help.
func (s *spec) parse(args []string) error {
	for _, a := range args {
		if a == "--help" || a == "-h" {
			s.g.help = true
			return nil
		}
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			if i+1 < len(args) {
				return usagef("unexpected argument %q", args[i+1])
			}
			return nil
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			return usagef("unexpected argument %q", a)
		}
		// -v, -vv, -vvv
		if strings.Trim(a[1:], "v") == "" && len(a) <= 4 {
			s.g.verbosity = max(s.g.verbosity, len(a)-1)
			continue
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		shown := a
		if hasVal {
			shown = a[:strings.IndexByte(a, '=')]
		}
		var o *option
		if !strings.HasPrefix(a, "--") && len(name) == 1 {
			o = s.find(name, true)
		} else {
			// --name, and -name as Go's flag package accepted it.
			o = s.find(name, false)
		}
		if o == nil {
			return usagef("unknown option %s", shown)
		}
		label := "--" + o.long
		switch {
		case o.arg == "":
			if hasVal {
				b, err := strconv.ParseBool(val)
				if err != nil {
					return usagef("%s takes no value (got %s=%s)", label, label, val)
				}
				if !b {
					continue
				}
			}
			val = ""
		case hasVal:
		case o.optArg:
			if i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
				i++
				val = args[i]
			}
		default:
			if i+1 >= len(args) || (strings.HasPrefix(args[i+1], "-") && len(args[i+1]) > 1 && !isNumber(args[i+1])) {
				return usagef("%s needs a value (%s=%s)", label, label, o.arg)
			}
			i++
			val = args[i]
		}
		if err := o.set(val); err != nil {
			return usagef("%s=%s: %v", label, val, err)
		}
	}
	return nil
}

func isNumber(s string) bool {
	_, err := strconv.ParseFloat(s, 64)
	return err == nil
}

// run parses args and calls body, or prints help (exit 0) or a usage error
// (exit 2). body gets the writers the global options leave: --silent
// discards both, -q discards stdout.
func (s *spec) run(args []string, stdout, stderr io.Writer, body func(stdout, stderr io.Writer) int) int {
	if err := s.parse(args); err != nil {
		fmt.Fprintf(stderr, "reverb %s: %v\nRun 'reverb %s --help' for its options.\n", s.name, err, s.name)
		return 2
	}
	if s.g.help {
		s.writeHelp(stdout)
		return 0
	}
	if s.g.silent {
		stdout, stderr = io.Discard, io.Discard
	} else if s.g.quiet && !s.ownQuiet {
		stdout = io.Discard
	}
	return body(stdout, stderr)
}

// writeHelp prints the help the way `php artisan help` lays it out.
func (s *spec) writeHelp(w io.Writer) {
	fmt.Fprintf(w, "Description:\n  %s\n\n", s.summary)
	usage := s.usage
	if usage == "" {
		usage = "[options]"
	}
	fmt.Fprintf(w, "Usage:\n  reverb %s %s\n\n", s.name, usage)
	fmt.Fprintln(w, "Options:")
	type line struct{ left, right string }
	var lines []line
	for _, o := range s.all() {
		if o.hidden {
			continue
		}
		left := "    "
		if o.short != 0 {
			left = "-" + string(o.short) + ", "
		}
		switch {
		case o.long == "verbose":
			left = "-v|vv|vvv, --verbose"
		case o.long == "ansi":
			left += "--ansi|--no-ansi"
		case o.arg == "":
			left += "--" + o.long
		case o.optArg:
			left += "--" + o.long + "[=" + o.arg + "]"
		default:
			left += "--" + o.long + "=" + o.arg
		}
		right := o.help
		if o.def != "" {
			right += " [default: " + o.def + "]"
		}
		lines = append(lines, line{left, right})
	}
	width := 0
	for _, l := range lines {
		width = max(width, len(l.left))
	}
	for _, l := range lines {
		fmt.Fprintf(w, "  %-*s  %s\n", width, l.left, l.right)
	}
	if len(s.about) > 0 {
		fmt.Fprintln(w, "\nHelp:")
		for i, p := range s.about {
			if i > 0 {
				fmt.Fprintln(w)
			}
			for _, l := range wrap(p, 76) {
				fmt.Fprintf(w, "  %s\n", l)
			}
		}
	}
	if len(s.examples) > 0 {
		fmt.Fprintln(w, "\nExamples:")
		for _, e := range s.examples {
			fmt.Fprintf(w, "  %s\n", e)
		}
	}
}

// wrap breaks a paragraph into lines of at most width characters.
func wrap(p string, width int) []string {
	var out []string
	cur := ""
	for _, word := range strings.Fields(p) {
		if cur != "" && len(cur)+1+len(word) > width {
			out = append(out, cur)
			cur = ""
		}
		if cur != "" {
			cur += " "
		}
		cur += word
	}
	if cur != "" {
		out = append(out, cur)
	}
	return out
}

// Value parsers shared by the commands. Each names what it wanted; the
// caller's error adds the option's name.

func setString(dst *string) func(string) error {
	return func(v string) error { *dst = v; return nil }
}

func setNonEmpty(dst *string, what string) func(string) error {
	return func(v string) error {
		if strings.TrimSpace(v) == "" {
			return fmt.Errorf("no %s given", what)
		}
		*dst = v
		return nil
	}
}

func setSwitch(dst *bool) func(string) error {
	return func(string) error { *dst = true; return nil }
}

// setCount parses a whole number from lo to hi ("N workers").
func setCount(dst *int, lo, hi int, what string) func(string) error {
	return func(v string) error {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < lo || n > hi {
			return fmt.Errorf("not a number of %s from %d to %d", what, lo, hi)
		}
		*dst = n
		return nil
	}
}

// setDuration parses a Go duration ("10s", "1m30s", "500ms") or a bare
// number of seconds; min is the smallest accepted value.
func setDuration(dst *time.Duration, min time.Duration) func(string) error {
	return func(v string) error {
		d, err := parseDuration(v)
		if err != nil {
			return err
		}
		if d < min {
			if min == 0 {
				return errors.New("negative")
			}
			return fmt.Errorf("shorter than %v", min)
		}
		*dst = d
		return nil
	}
}

func parseDuration(v string) (time.Duration, error) {
	s := strings.TrimSpace(v)
	if n, err := strconv.ParseFloat(s, 64); err == nil {
		return time.Duration(n * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, errors.New("not a duration (e.g. 10s, 500ms, 2m)")
	}
	return d, nil
}

// setPort accepts a TCP port number as a string (what the server takes).
func setPort(dst *string) func(string) error {
	return func(v string) error {
		s := strings.TrimSpace(v)
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > 65535 {
			return errors.New("not a port number (0 to 65535)")
		}
		*dst = s
		return nil
	}
}

// setHostPort accepts host:port (host may be empty: all interfaces).
func setHostPort(dst *string) func(string) error {
	return func(v string) error {
		_, port, err := net.SplitHostPort(strings.TrimSpace(v))
		if err != nil {
			return errors.New("not host:port (e.g. 127.0.0.1:9100)")
		}
		if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
			return errors.New("not a port number (0 to 65535) after the colon")
		}
		*dst = strings.TrimSpace(v)
		return nil
	}
}
