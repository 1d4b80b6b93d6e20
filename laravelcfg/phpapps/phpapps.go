// Package phpapps gets the apps only the Laravel app itself can produce: a
// custom application provider (reverb.apps.provider other than "config",
// e.g. tenants in a database) or an apps list the safe evaluator cannot
// compute. It runs `php artisan reverb:apps --json` (a command of the
// companion package reverb-go/laravel, which prints what the app's own
// Laravel\Reverb\ApplicationManager returns) and reads its answer with
// exactly the config provider's rules (laravelcfg.ParseApps), so an app from
// PHP is validated, defaulted and reported like one from config/reverb.php.
//
// The command prints one JSON object on stdout and exits 0:
//
//	{"apps":[{"app_id":"…","key":"…","secret":"…","ping_interval":60,
//	  "activity_timeout":30,"allowed_origins":["*"],"max_message_size":10000,
//	  "max_connections":null,"options":{…}, …}]}
//
// On failure it prints a message on stderr and exits 1. Errors from this
// package name what failed: the command line, the exit status and the first
// lines of stderr (of stdout when stderr is empty: Laravel prints an
// undefined command or an exception thrown while the app boots there), or
// the key path in the JSON ("apps.2.secret").
package phpapps

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/reverb-go/reverb/laravelcfg"
	"github.com/reverb-go/reverb/laravelcfg/php"
	"github.com/reverb-go/reverb/server/phpjson"
)

// Source names the command in error messages and key paths.
const Source = "php artisan reverb:apps --json"

// BinaryEnv names the PHP binary to run (real environment or .env); the
// companion's `php artisan reverb:start` sets it to the PHP running artisan.
// Unset means "php" on the PATH.
const BinaryEnv = "REVERB_PHP_BINARY"

// DefaultTimeout bounds one run of the command.
const DefaultTimeout = 30 * time.Second

// maxOutput bounds what is read from the command's stdout (a list of many
// thousand apps fits easily); stderrLines is how much of stderr an error
// quotes.
const (
	maxOutput   = 64 << 20
	stderrLines = 5
)

// Runner runs the command in one Laravel project.
type Runner struct {
	// PHP is the PHP binary; empty means "php" on the PATH.
	PHP string
	// Dir is the project root (where artisan is).
	Dir string
	// EnvName is artisan's --env (empty: none).
	EnvName string
	// Timeout bounds one run; zero means DefaultTimeout.
	Timeout time.Duration
	// Env is the command's environment; nil means this process's.
	Env []string
}

// ForProject is the Runner for a loaded project: its root, the PHP binary
// named by REVERB_PHP_BINARY (real environment first, then .env), and
// artisan's --env.
func ForProject(p *laravelcfg.Project, envName string) Runner {
	bin, _ := p.Getenv(BinaryEnv)
	return Runner{PHP: strings.TrimSpace(bin), Dir: p.BasePath, EnvName: envName}
}

// Args is the command line the runner executes (binary first).
func (r Runner) Args() []string {
	bin := r.PHP
	if bin == "" {
		bin = "php"
	}
	// display_errors=stderr keeps PHP notices out of the JSON on stdout.
	args := []string{bin, "-d", "display_errors=stderr", "artisan", "reverb:apps", "--json", "--no-interaction", "--no-ansi"}
	if r.EnvName != "" {
		args = append(args, "--env="+r.EnvName)
	}
	return args
}

// Error is a failed run: the command line, what went wrong, and the first
// lines of stderr (of stdout when stderr is empty).
type Error struct {
	Args   []string
	Dir    string
	Msg    string
	Stderr string
	// Hint says what to do, when the failure is a common one.
	Hint string
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%s, in %s): %s", Source, strings.Join(e.Args, " "), e.Dir, e.Msg)
	if e.Stderr != "" {
		b.WriteString(": ")
		b.WriteString(e.Stderr)
	}
	if e.Hint != "" {
		b.WriteString(" (")
		b.WriteString(e.Hint)
		b.WriteString(")")
	}
	return b.String()
}

// limitedBuffer keeps at most max bytes and remembers it overflowed.
type limitedBuffer struct {
	bytes.Buffer
	max      int
	overflow bool
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := l.max - l.Len(); len(p) > room {
		l.overflow = true
		if room > 0 {
			l.Buffer.Write(p[:room])
		}
		return len(p), nil
	}
	return l.Buffer.Write(p)
}

// Fetch runs the command and returns its stdout.
func (r Runner) Fetch(ctx context.Context) ([]byte, error) {
	timeout := r.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	args := r.Args()
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Dir = r.Dir
	cmd.Env = r.Env
	if cmd.Env == nil {
		cmd.Env = os.Environ()
	}
	stdout := &limitedBuffer{max: maxOutput}
	stderr := &limitedBuffer{max: 64 << 10}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	// A child the command left behind holding the pipes must not keep us
	// waiting past the deadline.
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	// What the command said: stderr, or else stdout, where Laravel prints
	// its own errors (an undefined command, an exception thrown while the
	// app boots); the command prints its JSON there only when it succeeds.
	said := stderr.String()
	if strings.TrimSpace(said) == "" && err != nil {
		said = stdout.String()
	}
	fail := func(msg, hint string) error {
		return &Error{Args: args, Dir: r.Dir, Msg: msg, Stderr: firstLines(said, stderrLines), Hint: hint}
	}
	var ee *exec.ExitError
	switch {
	case ctx.Err() == context.DeadlineExceeded:
		return nil, fail(fmt.Sprintf("no answer within %v", timeout), "")
	case errors.As(err, &ee):
		hint := ""
		if strings.Contains(said, "reverb:apps") && strings.Contains(said, "not defined") {
			hint = "is the companion package installed? composer require reverb-go/laravel"
		}
		return nil, fail(exitText(ee), hint)
	case errors.Is(err, exec.ErrNotFound), errors.Is(err, os.ErrNotExist):
		return nil, fail(err.Error(), "install php-cli, or set "+BinaryEnv+" to the PHP binary")
	case err != nil:
		return nil, fail(err.Error(), "")
	case stdout.overflow:
		return nil, fail(fmt.Sprintf("more than %d MiB on stdout", maxOutput>>20), "")
	}
	return stdout.Bytes(), nil
}

func exitText(ee *exec.ExitError) string {
	if ee.ExitCode() >= 0 {
		return fmt.Sprintf("exit status %d", ee.ExitCode())
	}
	return ee.Error() // killed by a signal
}

// firstLines returns up to n non-empty lines of s, joined with " | ".
func firstLines(s string, n int) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
			if len(out) == n {
				break
			}
		}
	}
	return strings.Join(out, " | ")
}

// Parse reads the command's output with the config provider's rules. The
// output should be exactly one JSON object; when PHP or the app printed
// something else too, the last line that is a JSON object is used.
func Parse(out []byte) ([]laravelcfg.App, []string, error) {
	v, err := phpjson.Decode(bytes.TrimSpace(out))
	if err != nil {
		if alt, ok := lastJSONLine(out); ok {
			v, err = alt, nil
		}
	}
	if err != nil {
		return nil, nil, fmt.Errorf("%s: the output is not JSON (%v): %q", Source, err, head(out, 200))
	}
	if v.Kind() != php.Array {
		return nil, nil, fmt.Errorf("%s: the output is %s, not an object with \"apps\"", Source, v.TypeName())
	}
	list, ok := v.ArrayVal().GetString("apps")
	if !ok {
		return nil, nil, fmt.Errorf("%s: apps: missing", Source)
	}
	if list.Kind() == php.Array && list.ArrayVal().Len() > 0 && !list.ArrayVal().IsList() {
		return nil, nil, fmt.Errorf("%s: apps: an object, not a list", Source)
	}
	return laravelcfg.ParseApps(list, Source, "apps")
}

func lastJSONLine(out []byte) (php.Value, bool) {
	lines := bytes.Split(out, []byte("\n"))
	for i := len(lines) - 1; i >= 0; i-- {
		l := bytes.TrimSpace(lines[i])
		if len(l) == 0 || l[0] != '{' {
			continue
		}
		if v, err := phpjson.Decode(l); err == nil {
			return v, true
		}
	}
	return php.Value{}, false
}

func head(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}

// Apps runs the command and parses its answer. It returns the raw output
// too: a supervisor hands it to its workers (Static) instead of making each
// of them run PHP.
func (r Runner) Apps(ctx context.Context) ([]laravelcfg.App, []byte, error) {
	out, err := r.Fetch(ctx)
	if err != nil {
		return nil, nil, err
	}
	apps, _, err := Parse(out)
	if err != nil {
		return nil, nil, err
	}
	return apps, out, nil
}

// Resolver is the laravelcfg.AppsResolver that runs the command in the
// project being loaded. It remembers the last answer that parsed (and saves
// it to Shared, when set). With KeepLastGood, a later failure (at a restart)
// is reported through Warn and the last good apps are used, so a provider
// that fails after start never takes the apps away: the newest answer in
// Shared (which other processes of the same server may have updated since),
// else the resolver's own. The first resolution always fails hard.
//
// Lock story: mu guards last; ResolveApps may be called from any goroutine.
type Resolver struct {
	EnvName      string
	KeepLastGood bool
	Warn         func(msg string)
	// Shared keeps the last good answer for the server's other processes
	// (nil for none).
	Shared Store
	// Runner adjusts the runner ForProject builds (tests shorten timeouts).
	Runner func(Runner) Runner

	mu   sync.Mutex
	last []byte
}

var _ laravelcfg.AppsResolver = (*Resolver)(nil)

// ResolveApps runs the command for p.
func (r *Resolver) ResolveApps(p *laravelcfg.Project) ([]laravelcfg.App, error) {
	run := ForProject(p, r.EnvName)
	if r.Runner != nil {
		run = r.Runner(run)
	}
	apps, out, err := run.Apps(context.Background())
	r.mu.Lock()
	defer r.mu.Unlock()
	if err == nil {
		r.last = out
		if r.Shared != nil {
			if serr := r.Shared.Save(out); serr != nil && r.Warn != nil {
				r.Warn(serr.Error())
			}
		}
		return apps, nil
	}
	if !r.KeepLastGood || r.last == nil {
		return nil, err
	}
	good := r.last
	if r.Shared != nil {
		if b, lerr := r.Shared.Load(); lerr == nil {
			good = b
		}
	}
	apps, _, perr := Parse(good)
	if perr != nil {
		return nil, err
	}
	if r.Warn != nil {
		r.Warn(fmt.Sprintf("%v; keeping the %d app(s) of the last successful run", err, len(apps)))
	}
	return apps, nil
}

// LastJSON is the output of this resolver's last successful run (nil
// before one).
func (r *Resolver) LastJSON() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last
}

// Store is where the processes of one server (a supervisor and its workers)
// keep the newest answer that parsed: workers start from it instead of
// running PHP again, save what their own runs find, and a restart whose run
// fails falls back to it. It holds app secrets.
type Store interface {
	Save(b []byte) error
	Load() ([]byte, error)
}

// SharedFile is a Store at a path another process created ("" stores
// nothing): what a worker is given.
type SharedFile string

// Save replaces the file's content atomically (a temporary file beside it,
// renamed over it), readable by its owner only.
func (f SharedFile) Save(b []byte) error {
	if f == "" {
		return nil
	}
	tmp, err := os.CreateTemp(filepath.Dir(string(f)), ".apps-*.json")
	if err != nil {
		return fmt.Errorf("saving the apps for the other workers: %w", err)
	}
	_, werr := tmp.Write(b)
	cerr := tmp.Close()
	if werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp.Name(), string(f))
	}
	if werr != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("saving the apps for the other workers: %w", werr)
	}
	return nil
}

// Load reads the file.
func (f SharedFile) Load() ([]byte, error) {
	if f == "" {
		return nil, os.ErrNotExist
	}
	return os.ReadFile(string(f))
}

// TempStore is the Store a supervisor owns: a file in a private (0700)
// temporary folder, created by the first Save (so a server whose apps come
// from config creates nothing) and deleted by Remove.
//
// Lock story: mu guards dir; Save, Path and Remove may race.
type TempStore struct {
	mu  sync.Mutex
	dir string
}

func (s *TempStore) file() SharedFile {
	if s.dir == "" {
		return ""
	}
	return SharedFile(filepath.Join(s.dir, "apps.json"))
}

// Save writes the answer, creating the folder the first time.
func (s *TempStore) Save(b []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dir == "" {
		dir, err := os.MkdirTemp("", "reverb-apps-")
		if err != nil {
			return fmt.Errorf("saving the apps for the workers: %w", err)
		}
		s.dir = dir
	}
	return s.file().Save(b)
}

// Load reads the answer saved last (by this process or a worker).
func (s *TempStore) Load() ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.file().Load()
}

// Path is the file workers are given ("" before the first Save).
func (s *TempStore) Path() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return string(s.file())
}

// Remove deletes the folder and what it holds.
func (s *TempStore) Remove() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dir != "" {
		os.RemoveAll(s.dir)
		s.dir = ""
	}
}

// Static is a laravelcfg.AppsResolver over an answer obtained elsewhere
// (what a supervisor passed to its worker).
type Static []byte

// ResolveApps parses the answer.
func (s Static) ResolveApps(*laravelcfg.Project) ([]laravelcfg.App, error) {
	apps, _, err := Parse(s)
	return apps, err
}
