package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/reverb-go/reverb/supervisor"
)

func runCLI(args ...string) (string, string, int) {
	var out, errb bytes.Buffer
	code := dispatch(args, &out, &errb)
	return out.String(), errb.String(), code
}

func publicCommands() []string {
	var names []string
	for n := range commands {
		if !strings.HasPrefix(n, "_") {
			names = append(names, n)
		}
	}
	return names
}

// projectCommands are the commands that work on a Laravel project (all but
// version).
func projectCommands() []string {
	var names []string
	for _, n := range publicCommands() {
		if n != "version" {
			names = append(names, n)
		}
	}
	return names
}

func TestNoCommandPrintsHelpAndExits2(t *testing.T) {
	out, errOut, code := runCLI()
	if code != 2 || out != "" || !strings.Contains(errOut, "Available commands:") {
		t.Fatalf("exit %d stdout %q stderr %q", code, out, errOut)
	}
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}} {
		out, _, code := runCLI(args...)
		if code != 0 || !strings.Contains(out, "Available commands:") {
			t.Errorf("%v: exit %d, stdout %q", args, code, out)
		}
		for _, name := range publicCommands() {
			if !regexp.MustCompile(`(?m)^  ` + name + ` +\S`).MatchString(out) {
				t.Errorf("%v: command %s not listed:\n%s", args, name, out)
			}
		}
		if strings.Contains(out, "_worker") {
			t.Errorf("internal command listed:\n%s", out)
		}
	}
	if _, errOut, code := runCLI("frobnicate"); code != 2 || !strings.Contains(errOut, `unknown command "frobnicate"`) {
		t.Errorf("unknown command: exit %d stderr %q", code, errOut)
	}
	if _, errOut, code := runCLI("--port=8080"); code != 2 || !strings.Contains(errOut, "give a command first") {
		t.Errorf("option without command: exit %d stderr %q", code, errOut)
	}
}

// Every command has the same written help: description, usage, --long
// options with defaults, Artisan's global options, examples; nothing of
// Go's flag package, no internal options.
func TestEveryCommandHasWrittenHelp(t *testing.T) {
	for _, name := range publicCommands() {
		for _, args := range [][]string{{name, "--help"}, {name, "-h"}, {"help", name}} {
			out, errOut, code := runCLI(args...)
			if code != 0 || errOut != "" {
				t.Fatalf("%v: exit %d stderr %q", args, code, errOut)
			}
			for _, want := range []string{"Description:\n  ", "Usage:\n  reverb " + name + " [options]", "Options:\n",
				"  -h, --help ", "  -q, --quiet ", "      --silent ", "      --ansi|--no-ansi ", "  -n, --no-interaction ",
				"  -v|vv|vvv, --verbose ", "      --env=ENV ", "Examples:\n  ./reverb " + name} {
				if !strings.Contains(out, want) {
					t.Errorf("%v: help lacks %q:\n%s", args, want, out)
				}
			}
			if name != "version" && !strings.Contains(out, "      --dir=DIR ") {
				t.Errorf("%v: help lacks --dir:\n%s", args, out)
			}
			if regexp.MustCompile(`(?m)^\s+-[a-z]{2,}`).MatchString(out) || strings.Contains(out, "Usage of") {
				t.Errorf("%v: single-dash long option or Go flag help:\n%s", args, out)
			}
			for _, hidden := range []string{"ping-sweep", "tests shorten", "--snippets="} {
				if strings.Contains(out, hidden) {
					t.Errorf("%v: internal option %q shown:\n%s", args, hidden, out)
				}
			}
		}
	}
	out, _, _ := runCLI("start", "--help")
	for _, want := range []string{"--workers=N ", "[default: ", supervisor.DefaultWorkersNote + "]", "--drain-window=DURATION", "[default: 10s]", "--port=PORT"} {
		if !strings.Contains(out, want) {
			t.Errorf("start help lacks %q:\n%s", want, out)
		}
	}
	out, _, _ = runCLI("doctor", "--help")
	if !strings.Contains(out, "--workers=N ") || strings.Contains(out, "-workers reverb start") {
		t.Errorf("doctor help:\n%s", out)
	}
}

// Nonsense values are refused before anything runs, naming the option.
func TestBadValuesNameTheOption(t *testing.T) {
	dir := writeProject(t, "CACHE_STORE=file\n")
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"start", "--workers=-3"}, "reverb start: --workers=-3: not a number of workers from 0 to 1024"},
		{[]string{"start", "--workers", "lots"}, "--workers=lots: not a number of workers"},
		{[]string{"start", "--port=99999"}, "--port=99999: not a port number (0 to 65535)"},
		{[]string{"start", "--drain-window=-1s"}, "--drain-window=-1s: shorter than"},
		{[]string{"start", "--restart-poll=soon"}, "--restart-poll=soon: not a duration"},
		{[]string{"start", "--metrics=9100"}, "--metrics=9100: not host:port"},
		{[]string{"start", "--host="}, "--host=: no host given"},
		{[]string{"start", "--debug=perhaps"}, "--debug takes no value"},
		{[]string{"start", "--dir"}, "--dir needs a value (--dir=DIR)"},
		{[]string{"start", "--frobnicate"}, "unknown option --frobnicate"},
		{[]string{"start", "now"}, `unexpected argument "now"`},
		{[]string{"start", "-vvvv"}, "unknown option -vvvv"},
		{[]string{"start", "--verbose=7"}, "--verbose=7: not a verbosity level"},
		{[]string{"doctor", "--workers=2000"}, "--workers=2000: not a number of workers from 0 to 1024"},
		{[]string{"status", "--interval=-1s"}, "--interval=-1s: negative"},
		{[]string{"restart", "--dir", dir, "--json"}, "unknown option --json"},
		{[]string{"install", "--dry-run=maybe"}, "--dry-run takes no value"},
	}
	for _, tc := range tests {
		out, errOut, code := runCLI(tc.args...)
		if code != 2 || out != "" || !strings.Contains(errOut, tc.want) || !strings.Contains(errOut, "--help' for its options") {
			t.Errorf("%v: exit %d stdout %q stderr %q, want exit 2 and %q", tc.args, code, out, errOut, tc.want)
		}
	}
}

// Artisan's global options are accepted by every command, before or after
// the command name, so a command line copied from Forge or supervisor works.
func TestArtisanGlobalOptions(t *testing.T) {
	dir := writeProject(t, "CACHE_STORE=file\n")
	for _, args := range [][]string{
		{"restart", "--dir", dir, "--no-interaction", "-n", "--ansi", "--no-ansi", "-v", "-vv", "-vvv", "--verbose", "--verbose=2", "--env=production"},
		{"-n", "restart", "--dir=" + dir},
		{"--no-interaction", "--no-ansi", "restart", "--dir", dir},
		{"config", "--dir", dir, "-n", "--no-ansi", "-vvv"},
		{"install", "--dir", dir, "--dry-run", "-n", "--ansi", "--env=local"},
		{"doctor", "--dir", dir, "-n", "--no-ansi", "--no-snippets", "--env=local"},
		{"status", "--dir", dir, "-n", "--interval=0", "--env=production"},
		{"--env=production", "status", "--dir", dir},
		{"version", "--env=production"},
	} {
		_, errOut, code := runCLI(args...)
		if code == 2 || strings.Contains(errOut, "unknown option") {
			t.Errorf("%v: exit %d stderr %q", args, code, errOut)
		}
	}
	// -q keeps only errors; --silent keeps nothing.
	out, errOut, code := runCLI("restart", "--dir", dir, "-q")
	if code != 0 || out != "" || errOut != "" {
		t.Errorf("-q: exit %d stdout %q stderr %q", code, out, errOut)
	}
	out, errOut, code = runCLI("restart", "--dir", filepath.Join(dir, "nope"), "-q")
	if code != 1 || out != "" || !strings.Contains(errOut, "does not exist") {
		t.Errorf("-q with an error: exit %d stdout %q stderr %q", code, out, errOut)
	}
	out, errOut, code = runCLI("restart", "--dir", filepath.Join(dir, "nope"), "--silent")
	if code != 1 || out != "" || errOut != "" {
		t.Errorf("--silent: exit %d stdout %q stderr %q", code, out, errOut)
	}
	// -v is restart's "where was it written".
	out, _, _ = runCLI("restart", "--dir", dir, "-v")
	if !strings.Contains(out, "storage/framework/cache/data/") {
		t.Errorf("restart -v: %q", out)
	}
}

// --env selects .env.NAME like artisan --env.
func TestEnvOption(t *testing.T) {
	dir := writeProject(t, "CACHE_STORE=file\n")
	if err := os.WriteFile(filepath.Join(dir, ".env.staging"), []byte("REVERB_APP_ID=7\nREVERB_APP_KEY=staging-key\nREVERB_APP_SECRET=s\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := runCLI("config", "--dir", dir, "--env=staging", "--json=reverb.apps.apps.0.key")
	if code != 0 || out != "\"staging-key\"\n" {
		t.Errorf("exit %d out %q stderr %q", code, out, errOut)
	}

	// install writes to the file that environment loads, as php artisan
	// reverb:install --env=staging does; .env is left alone.
	before, _ := os.ReadFile(filepath.Join(dir, ".env"))
	out, errOut, code = runCLI("install", "--dir", dir, "--env=staging")
	staging, _ := os.ReadFile(filepath.Join(dir, ".env.staging"))
	after, _ := os.ReadFile(filepath.Join(dir, ".env"))
	if code != 0 || !strings.Contains(out, ".env.staging: added REVERB_HOST") || !strings.Contains(string(staging), "REVERB_HOST=") ||
		!strings.Contains(string(staging), "REVERB_APP_KEY=staging-key\n") || string(after) != string(before) {
		t.Errorf("install --env=staging: exit %d stderr %q\n%s\n.env.staging:\n%s", code, errOut, out, staging)
	}
	// Without such a file, .env is the file Laravel loads.
	out, _, code = runCLI("install", "--dir", dir, "--env=nothere", "--dry-run")
	if code != 0 || !strings.Contains(out, "would have: .env: added REVERB_HOST") {
		t.Errorf("install --env=nothere: exit %d\n%s", code, out)
	}
}

func TestDurationsTakeSecondsToo(t *testing.T) {
	for in, want := range map[string]time.Duration{"10": 10 * time.Second, "1.5": 1500 * time.Millisecond, "250ms": 250 * time.Millisecond, "2m": 2 * time.Minute} {
		got, err := parseDuration(in)
		if err != nil || got != want {
			t.Errorf("parseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
}

// In a folder that is not a Laravel project, every command says so first
// and exits 1; restart writes nothing there.
func TestOutsideALaravelProject(t *testing.T) {
	dir := t.TempDir()
	for _, name := range projectCommands() {
		args := []string{name, "--dir", dir}
		if name == "doctor" {
			args = append(args, "--no-snippets")
		}
		out, errOut, code := runCLI(args...)
		if code != 1 {
			t.Errorf("%s: exit %d, want 1", name, code)
		}
		text := errOut
		if name == "doctor" || name == "start" {
			text = out + errOut
		}
		if !strings.Contains(text, "No Laravel project in "+dir+": there is no artisan file") ||
			!strings.Contains(text, "Run reverb from your Laravel project's root folder (where artisan is), or pass --dir=") {
			t.Errorf("%s: output does not start with the folder problem:\nstdout %s\nstderr %s", name, out, errOut)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 0 {
		t.Errorf("commands wrote into a non-Laravel folder: %v", entries)
	}
}

// A project without .env: the missing file is named first, before what
// follows from it (no app_id, no SQLite database).
func TestMissingEnvSaidFirst(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "artisan"), []byte("#!/usr/bin/env php\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ".env.example"), []byte("APP_NAME=Laravel\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"config", "--dir", dir}, {"restart", "--dir", dir}, {"start", "--dir", dir}} {
		out, errOut, code := runCLI(args...)
		text := errOut
		if args[0] == "start" {
			text = out
		}
		envAt := strings.Index(text, "No .env file in "+dir)
		fixAt := strings.Index(text, "cp .env.example .env && php artisan key:generate")
		if code != 1 || envAt < 0 || fixAt < 0 {
			t.Errorf("%v: exit %d, no .env problem and fix:\nstdout %s\nstderr %s", args, code, out, errOut)
			continue
		}
		if args[0] != "config" {
			// The consequence comes after the cause.
			rest := text[envAt:]
			if !strings.Contains(rest, "REVERB_APP_ID is not set") && !strings.Contains(rest, "does not exist") {
				t.Errorf("%v: the consequence is not named after the cause:\n%s", args, text)
			}
		}
	}
	out, _, _ := runCLI("config", "--dir", dir)
	if !strings.Contains(out, "reverb.apps.apps.0.app_id") || !strings.Contains(out, "REVERB_APP_ID is not set in .env or the environment: ./reverb install adds") {
		t.Errorf("config output:\n%s", out)
	}
}
