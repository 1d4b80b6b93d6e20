package dotenv

import (
	"errors"
	"io/fs"
	"os"
	"syscall"

	"github.com/reverb-go/reverb/laravelcfg/php"
)

// Env is the environment a Laravel app sees after bootstrap: the real
// process environment, plus the variables its .env file defined that the
// real environment does not have. It is immutable after Load, so it is safe
// for concurrent use.
type Env struct {
	// File is the path that was loaded, or "" when no file was read.
	File string

	lookupReal func(string) (string, bool)
	// vars are the file-defined variables, in the order they were
	// (last) defined; index maps a name to its position in vars.
	vars  []Var
	index map[string]int
	// lines maps a file-defined variable to the line of its (last)
	// definition.
	lines map[string]int
}

// Var is one variable defined by the .env file.
type Var struct {
	Name  string
	Value string
}

// Load reads and loads the .env file at path as Laravel's bootstrap does
// (Dotenv::create(Env::getRepository(), ...)->safeLoad()). A missing file
// gives an environment with only the real variables and no error, like
// safeLoad. lookupReal reads the real environment; nil means os.LookupEnv.
//
// Unlike PHP, a file that exists but cannot be read (permissions) is an
// error rather than silently ignored: the PHP app may run as another user,
// and silently reading a different configuration is worse than stopping.
func Load(path string, lookupReal func(string) (string, bool)) (*Env, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		// ENOTDIR: a path component is a file; PHP's
		// file_get_contents fails and safeLoad ignores it, as for a
		// missing file.
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			return newEnv("", lookupReal), nil
		}
		if isDirectory(path) {
			// PHP's file_get_contents reads a directory as "".
			return newEnv(path, lookupReal), nil
		}
		return nil, err
	}
	return LoadBytes(path, data, lookupReal)
}

// load is Load with a dialect, for the tests against phpdotenv 5.4.1.
func load(path string, lookupReal func(string) (string, bool), d dialect) (*Env, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Load(path, lookupReal)
	}
	return loadBytes(path, data, lookupReal, d)
}

func isDirectory(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}

// LoadBytes is Load for contents already read; filename names the file in
// errors and in Env.File.
func LoadBytes(filename string, data []byte, lookupReal func(string) (string, bool)) (*Env, error) {
	return loadBytes(filename, data, lookupReal, latest)
}

func loadBytes(filename string, data []byte, lookupReal func(string) (string, bool), d dialect) (*Env, error) {
	entries, perr := parse(filename, data, d)
	if perr != nil {
		return nil, perr
	}
	env := newEnv(filename, lookupReal)
	for _, e := range entries {
		// Laravel's repository is immutable: a variable present in the
		// real environment (even as "") is never written nor cleared.
		if _, isReal := env.lookupReal(e.Name); isReal {
			continue
		}
		if e.Unset {
			env.remove(e.Name)
			continue
		}
		env.set(e.Name, resolve(e.Value, e.Vars, env.Lookup))
		env.lines[e.Name] = e.Line
	}
	return env, nil
}

func newEnv(file string, lookupReal func(string) (string, bool)) *Env {
	if lookupReal == nil {
		lookupReal = os.LookupEnv
	}
	return &Env{File: file, lookupReal: lookupReal, index: map[string]int{}, lines: map[string]int{}}
}

// set defines or redefines a file variable; a redefinition moves it to the
// end, so FileVars lists variables in the order of their final definition.
func (e *Env) set(name, value string) {
	e.remove(name)
	e.index[name] = len(e.vars)
	e.vars = append(e.vars, Var{Name: name, Value: value})
}

func (e *Env) remove(name string) {
	i, ok := e.index[name]
	if !ok {
		return
	}
	delete(e.index, name)
	delete(e.lines, name)
	e.vars = append(e.vars[:i], e.vars[i+1:]...)
	for j := i; j < len(e.vars); j++ {
		e.index[e.vars[j].Name] = j
	}
}

// Lookup reads a variable as PHP code in the app does after bootstrap (and
// as env() does before converting): the real environment first, then the
// file. Presence, not non-emptiness, decides.
func (e *Env) Lookup(name string) (string, bool) {
	if v, ok := e.lookupReal(name); ok {
		return v, true
	}
	if i, ok := e.index[name]; ok {
		return e.vars[i].Value, true
	}
	return "", false
}

// FileLookup reads a variable the file defined and that took effect (not
// shadowed by a real one): what Laravel's loader wrote with putenv, so
// what getenv() returns for a name the process environment lacks.
func (e *Env) FileLookup(name string) (string, bool) {
	if i, ok := e.index[name]; ok {
		return e.vars[i].Value, true
	}
	return "", false
}

// Line is the line of the file that (last) defined name as the app sees
// it; 0 when the file does not define it or the real environment does.
func (e *Env) Line(name string) int {
	if _, isReal := e.lookupReal(name); isReal {
		return 0
	}
	if _, ok := e.index[name]; !ok {
		return 0
	}
	return e.lines[name]
}

// FileVars lists the variables the file defined and that took effect (real
// environment variables shadow file ones and are not listed), in order.
func (e *Env) FileVars() []Var {
	return append([]Var(nil), e.vars...)
}

// Get is Laravel's env($name, $default): the variable converted by Convert,
// or def unchanged (keeping its PHP type) when the variable is absent.
func (e *Env) Get(name string, def php.Value) php.Value {
	raw, ok := e.Lookup(name)
	if !ok {
		return def
	}
	return Convert(raw)
}

// resolve interpolates ${NAME} references like phpdotenv's Resolver: the
// marked '$' positions are processed from the last to the first, each one
// replacing at most one ${NAME} that starts exactly there, by the value
// lookup finds; an unknown name stays verbatim. Because a reference is
// matched against the already-resolved text after it, "${A${B}}" with
// B=C looks up AC, as in PHP; resolved text is otherwise not re-expanded.
//
// The resolved suffix is kept reversed in a byte slice so that each step
// costs only the bytes it touches (PHP's substring rebuilding is quadratic).
func resolve(chars string, vars []int, lookup func(string) (string, bool)) string {
	if len(vars) == 0 {
		return chars
	}
	var rev []byte // the resolved text from position `end` on, reversed
	end := len(chars)
	for k := len(vars) - 1; k >= 0; k-- {
		pos := vars[k]
		for p := end - 1; p >= pos; p-- {
			rev = append(rev, chars[p])
		}
		end = pos
		n := len(rev)
		at := func(off int) byte {
			if off >= n {
				return 0
			}
			return rev[n-1-off]
		}
		if at(0) != '$' || at(1) != '{' {
			continue
		}
		off := 2
		for isRefNameByte(at(off)) {
			off++
		}
		if off == 2 || at(off) != '}' {
			continue
		}
		name := make([]byte, 0, off-2)
		for i := 2; i < off; i++ {
			name = append(name, at(i))
		}
		value, ok := lookup(string(name))
		if !ok {
			continue
		}
		rev = rev[:n-off-1]
		for i := len(value) - 1; i >= 0; i-- {
			rev = append(rev, value[i])
		}
	}
	out := make([]byte, 0, end+len(rev))
	out = append(out, chars[:end]...)
	for i := len(rev) - 1; i >= 0; i-- {
		out = append(out, rev[i])
	}
	return string(out)
}

// isRefNameByte: the names a reference may use, [a-zA-Z0-9_.] (phpdotenv's
// resolver stays ASCII-only even in 5.6).
func isRefNameByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '.'
}
