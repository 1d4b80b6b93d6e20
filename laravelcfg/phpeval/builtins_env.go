package phpeval

// Functions that read the environment and the project: env(), getenv(), the path helpers, constants.

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/reverb-go/reverb/laravelcfg/dotenv"
	"github.com/reverb-go/reverb/laravelcfg/php"
)

// fnEnv is Laravel's env(): Illuminate\Support\Env::get conversions.
func fnEnv(in *interp, line int, a []php.Value) php.Value {
	if len(a) == 0 {
		return in.failed(line, "ArgumentCountError: env() expects at least 1 argument")
	}
	if a[0].IsUnknown() {
		return a[0]
	}
	name, ok := a[0].CoerceString()
	if !ok {
		return in.failed(line, "TypeError: env(): key must be a string")
	}
	var raw string
	found := false
	if in.opts.Getenv != nil {
		raw, found = in.opts.Getenv(name)
	}
	if !found {
		def := arg(a, 1)
		if def.Kind() == php.Closure {
			return in.callValue(line, def, nil)
		}
		return def
	}
	return EnvValue(raw)
}

// EnvValue converts a raw environment string as Laravel's env() does
// (one implementation for the whole program: dotenv.Convert).
func EnvValue(raw string) php.Value { return dotenv.Convert(raw) }

func fnValue(in *interp, line int, a []php.Value) php.Value {
	v := arg(a, 0)
	if v.Kind() == php.Closure {
		return in.callValue(line, v, a[1:])
	}
	return v
}

// joinPath is Laravel 10+'s join_paths for one segment.
func joinPath(base, p string) string {
	if p == "" {
		return base
	}
	return base + string(filepath.Separator) + strings.TrimLeft(p, string(filepath.Separator))
}

func pathFn(sub string) builtin {
	return func(in *interp, line int, a []php.Value) php.Value {
		p := joinPath(in.opts.BasePath, sub)
		if sub == "" {
			p = in.opts.BasePath
		}
		return php.StringValue(joinPath(p, arg(a, 0).ToString()))
	}
}

// fnStoragePath honours LARAVEL_STORAGE_PATH as Application::storagePath.
func fnStoragePath(in *interp, line int, a []php.Value) php.Value {
	dir := joinPath(in.opts.BasePath, "storage")
	if in.opts.Getenv != nil {
		if v, ok := in.opts.Getenv("LARAVEL_STORAGE_PATH"); ok {
			dir = v
		}
	}
	return php.StringValue(joinPath(dir, arg(a, 0).ToString()))
}

func fnGethostname(in *interp, line int, a []php.Value) php.Value {
	h, err := os.Hostname()
	if err != nil {
		return php.BoolValue(false)
	}
	return php.StringValue(h)
}

// Extensions a stock Debian PHP with Laravel's usual packages has loaded.
// Config files only ask to decide whether PDO driver options apply.
var loadedExtensions = map[string]bool{
	"core": true, "date": true, "json": true, "pcre": true, "pdo": true, "pdo_mysql": true,
	"pdo_pgsql": true, "pdo_sqlite": true, "pdo_sqlsrv": false, "mysqlnd": true, "mbstring": true,
	"openssl": true, "redis": true, "memcached": true, "curl": true, "ctype": true, "tokenizer": true,
	"xml": true, "fileinfo": true, "filter": true, "hash": true, "session": true, "sqlite3": true,
	"zip": true, "intl": true, "bcmath": true, "pcntl": true, "posix": true, "sockets": true,
}

func fnExtensionLoaded(in *interp, line int, a []php.Value) php.Value {
	return php.BoolValue(loadedExtensions[strings.ToLower(arg(a, 0).ToString())])
}

// ---- strings ----

// fnGetenv is getenv($name): the raw string of a process environment
// variable (Laravel's .env loader puts its variables there too), false
// when it is not set. getenv() without a name (every variable) is not
// computed.
func fnGetenv(in *interp, line int, a []php.Value) php.Value {
	if arg(a, 0).IsNull() {
		return in.unknown(line, "getenv() without a variable name")
	}
	name, ok := in.coerceStr(arg(a, 0))
	if !ok {
		return in.failed(line, "TypeError: getenv(): Argument #1 ($name) must be of type ?string, "+a[0].TypeName()+" given")
	}
	if in.opts.ProcessEnv == nil {
		return in.unknown(line, "getenv('"+name+"') (the process environment is not known here)")
	}
	if v, ok := in.opts.ProcessEnv(name); ok {
		return php.StringValue(v)
	}
	return php.BoolValue(false)
}

// constName checks a constant name argument.
func constName(in *interp, line int, a []php.Value, fn string) (string, php.Value) {
	name, ok := in.coerceStr(arg(a, 0))
	if !ok {
		return "", in.failed(line, "TypeError: "+fn+"(): Argument #1 ($constant_name) must be of type string, "+arg(a, 0).TypeName()+" given")
	}
	return strings.TrimPrefix(name, "\\"), php.Value{}
}

// isConstant reports whether name is a constant this file can see: PHP's
// own, or one define() created earlier in the file.
func (in *interp) isConstant(name string) bool {
	if _, ok := constants[name]; ok {
		return true
	}
	switch strings.ToLower(name) {
	case "true", "false", "null":
		return true
	}
	_, ok := in.defined[name]
	return ok
}

// fnDefine is define($name, $value): the constant is visible to the rest of
// the file. A name already defined keeps its value (PHP warns and returns
// false). Constants defined elsewhere (other config files, the app's
// autoloaded files) are not seen.
func fnDefine(in *interp, line int, a []php.Value) php.Value {
	name, bad := constName(in, line, a, "define")
	if bad.IsUnknown() {
		return bad
	}
	if len(a) < 2 {
		return in.failed(line, "ArgumentCountError: define() expects at least 2 arguments, 1 given")
	}
	if strings.Contains(name, "::") {
		return in.failed(line, "ValueError: define(): Argument #1 ($constant_name) cannot be a class constant")
	}
	if in.isConstant(name) {
		in.warnings = append(in.warnings, fmt.Sprintf("%s: constant %s already defined", in.where(line), name))
		return php.BoolValue(false)
	}
	v := a[1]
	if v.Kind() == php.Closure {
		v = in.unknown(line, "constant "+name+" holding a closure")
	}
	if in.defined == nil {
		in.defined = map[string]php.Value{}
	}
	in.defined[name] = v
	return php.BoolValue(true)
}

func fnDefined(in *interp, line int, a []php.Value) php.Value {
	name, bad := constName(in, line, a, "defined")
	if bad.IsUnknown() {
		return bad
	}
	if strings.Contains(name, "::") {
		_, ok := classConstants[strings.ToLower(name)]
		if !ok {
			return in.unknown(line, "defined('"+name+"')")
		}
		return php.BoolValue(true)
	}
	return php.BoolValue(in.isConstant(name))
}

func fnConstant(in *interp, line int, a []php.Value) php.Value {
	name, bad := constName(in, line, a, "constant")
	if bad.IsUnknown() {
		return bad
	}
	if cls, c, ok := strings.Cut(name, "::"); ok {
		return in.classConst(&classConstNode{base: base{line}, class: cls, name: c})
	}
	if !in.isConstant(name) {
		return in.failed(line, "Error: Undefined constant \""+name+"\"")
	}
	return in.constant(&constNode{base: base{line}, name: name})
}
