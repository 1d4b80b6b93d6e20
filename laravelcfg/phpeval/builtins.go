package phpeval

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/reverb-go/reverb/laravelcfg/dotenv"
	"github.com/reverb-go/reverb/laravelcfg/php"
)

// builtin implements one PHP function. Arguments are already evaluated and
// none is Unknown (callNode evaluation returns the first Unknown argument
// instead of calling), except for functions listed in lazyArgs.
type builtin func(in *interp, line int, args []php.Value) php.Value

var builtins map[string]builtin

// Functions that see Unknown arguments themselves (env's default is only
// needed when the variable is missing).
var lazyArgs = map[string]bool{"env": true, "value": true}

func init() {
	builtins = map[string]builtin{
		"env":              fnEnv,
		"value":            fnValue,
		"explode":          fnExplode,
		"implode":          fnImplode,
		"join":             fnImplode,
		"trim":             trimFn(3),
		"ltrim":            trimFn(1),
		"rtrim":            trimFn(2),
		"chop":             trimFn(2),
		"strtolower":       strFn(asciiLower),
		"strtoupper":       strFn(asciiUpper),
		"mb_strtolower":    mbCaseFn(false),
		"mb_strtoupper":    mbCaseFn(true),
		"ucfirst":          strFn(ucfirst),
		"lcfirst":          strFn(lcfirst),
		"strlen":           fnStrlen,
		"str_replace":      fnStrReplace,
		"str_contains":     strPred(strings.Contains),
		"str_starts_with":  strPred(strings.HasPrefix),
		"str_ends_with":    strPred(strings.HasSuffix),
		"substr":           fnSubstr,
		"array_map":        fnArrayMap,
		"array_filter":     fnArrayFilter,
		"array_values":     fnArrayValues,
		"array_keys":       fnArrayKeys,
		"array_unique":     fnArrayUnique,
		"array_merge":      fnArrayMerge,
		"array_key_exists": fnArrayKeyExists,
		"key_exists":       fnArrayKeyExists,
		"in_array":         fnInArray,
		"count":            fnCount,
		"sizeof":           fnCount,
		"is_null":          typePred(func(v php.Value) bool { return v.IsNull() }),
		"is_string":        typePred(func(v php.Value) bool { return v.Kind() == php.String }),
		"is_array":         typePred(func(v php.Value) bool { return v.Kind() == php.Array }),
		"is_bool":          typePred(func(v php.Value) bool { return v.Kind() == php.Bool }),
		"is_int":           typePred(func(v php.Value) bool { return v.Kind() == php.Int }),
		"is_integer":       typePred(func(v php.Value) bool { return v.Kind() == php.Int }),
		"is_float":         typePred(func(v php.Value) bool { return v.Kind() == php.Float }),
		"is_numeric":       typePred(php.Value.IsNumeric),
		"intval":           fnIntval,
		"floatval":         func(in *interp, line int, a []php.Value) php.Value { return php.FloatValue(arg(a, 0).ToFloat()) },
		"boolval":          func(in *interp, line int, a []php.Value) php.Value { return php.BoolValue(arg(a, 0).ToBool()) },
		"strval":           func(in *interp, line int, a []php.Value) php.Value { return php.StringValue(arg(a, 0).ToString()) },
		"parse_url":        fnParseURL,
		"sprintf":          fnSprintf,
		"gethostname":      fnGethostname,
		"extension_loaded": fnExtensionLoaded,
		"filter_var":       fnFilterVar,
		"base_path":        pathFn(""),
		"storage_path":     fnStoragePath,
		"database_path":    pathFn("database"),
		"config_path":      pathFn("config"),
		"app_path":         pathFn("app"),
		"public_path":      pathFn("public"),
		"resource_path":    pathFn("resources"),
		"lang_path":        pathFn("lang"),
		"dirname":          fnDirname,
		"basename":         fnBasename,
		"ucwords":          strFn(ucwords),
		"str_pad":          fnStrPad,
	}
}

func arg(a []php.Value, i int) php.Value {
	if i < len(a) {
		return a[i]
	}
	return php.NullValue()
}

func (in *interp) evalArgs(args []callArg, sc *scope) ([]php.Value, php.Value) {
	var out []php.Value
	for _, a := range args {
		if a.name != "" {
			return nil, in.unknown(a.x.pos(), "named argument "+a.name+":")
		}
		v := in.eval(a.x, sc)
		if a.spread {
			if v.IsUnknown() {
				return nil, v
			}
			if v.Kind() != php.Array {
				return nil, in.failed(a.x.pos(), "only arrays can be unpacked")
			}
			out = append(out, v.ArrayVal().Values...)
			continue
		}
		out = append(out, v)
	}
	return out, php.Value{}
}

// funcName normalises a called name: no leading backslash, lower case.
func funcName(name string) string {
	return strings.ToLower(strings.TrimPrefix(name, "\\"))
}

func (in *interp) evalCall(n *callNode, sc *scope) php.Value {
	name := funcName(n.name)
	fn, ok := builtins[name]
	if !ok {
		return in.unknown(n.line, "call to "+n.name+"()")
	}
	args, bad := in.evalArgs(n.args, sc)
	if bad.IsUnknown() {
		return bad
	}
	prev := in.argStrict
	in.argStrict = in.strict
	defer func() { in.argStrict = prev }()
	return in.callBuiltin(n.line, name, fn, args)
}

func (in *interp) callBuiltin(line int, name string, fn builtin, args []php.Value) php.Value {
	if !lazyArgs[name] {
		for _, a := range args {
			if a.IsUnknown() {
				return a
			}
		}
	}
	for _, a := range args {
		if a.Kind() == php.Array {
			in.cost(line, a.ArrayVal().Len())
		} else if a.Kind() == php.String {
			in.cost(line, len(a.StringVal())/64)
		}
	}
	return fn(in, line, args)
}

// callValue calls a callable value: a closure, or a string naming a builtin.
// It is how builtins call their callbacks, which PHP always coerces.
func (in *interp) callValue(line int, fn php.Value, args []php.Value) php.Value {
	return in.callValueAs(line, fn, args, false)
}

// callValueAs is callValue with the strictness of the calling code.
func (in *interp) callValueAs(line int, fn php.Value, args []php.Value, strict bool) php.Value {
	switch fn.Kind() {
	case php.Closure:
		c, _ := fn.ClosurePayload().(*closure)
		if c == nil {
			return in.failed(line, errNotCallable.Error())
		}
		return in.callClosure(line, c, args)
	case php.String:
		name := funcName(fn.StringVal())
		if strings.Contains(name, "::") {
			parts := strings.SplitN(fn.StringVal(), "::", 2)
			return in.staticCall(line, strings.TrimPrefix(parts[0], "\\"), parts[1], args)
		}
		if b, ok := builtins[name]; ok && name != "env" {
			prev := in.argStrict
			in.argStrict = strict
			defer func() { in.argStrict = prev }()
			return in.callBuiltin(line, name, b, args)
		}
		return in.unknown(line, "callable '"+fn.StringVal()+"'")
	case php.Array:
		return in.unknown(line, "array callable")
	}
	return in.failed(line, "value of type "+fn.TypeName()+" is not callable")
}

func (in *interp) callClosure(line int, c *closure, args []php.Value) php.Value {
	in.depth++
	defer func() { in.depth-- }()
	if in.depth > in.opts.Limits.MaxDepth {
		in.abort(line, "closure calls nested deeper than %d", in.opts.Limits.MaxDepth)
	}
	in.cost(line, len(c.captured))
	sc := &scope{vars: make(map[string]php.Value, len(c.captured)+len(args))}
	for k, v := range c.captured {
		sc.vars[k] = v
	}
	for i, p := range c.node.params {
		switch {
		case p.variadic:
			rest := php.NewArray()
			for j := i; j < len(args); j++ {
				rest.Append(args[j])
			}
			sc.vars[p.name] = php.ArrayValue(rest)
		case i < len(args):
			sc.vars[p.name] = args[i]
		case p.def != nil:
			sc.vars[p.name] = in.eval(p.def, sc)
		default:
			return in.failed(line, "ArgumentCountError: too few arguments to closure")
		}
	}
	if c.node.expr != nil {
		return in.eval(c.node.expr, sc)
	}
	v, returned := in.execBlock(c.node.body, sc)
	if !returned {
		return php.NullValue()
	}
	return v
}

// ---- env and helpers ----

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

func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 32
		}
	}
	return string(b)
}

func asciiUpper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - 32
		}
	}
	return string(b)
}

func ucfirst(s string) string {
	if s == "" {
		return s
	}
	return asciiUpper(s[:1]) + s[1:]
}

func lcfirst(s string) string {
	if s == "" {
		return s
	}
	return asciiLower(s[:1]) + s[1:]
}

// strFn wraps a string → string function with PHP's parameter rules.
func strFn(f func(string) string) builtin {
	return func(in *interp, line int, a []php.Value) php.Value {
		s, ok := in.strArg(a, 0)
		if !ok {
			return in.failed(line, "TypeError: expects a string, "+arg(a, 0).TypeName()+" given")
		}
		return php.StringValue(f(s))
	}
}

// strArg is a string parameter of a builtin: strict under
// declare(strict_types=1), else stringArg.
func (in *interp) strArg(a []php.Value, i int) (string, bool) {
	if in.argStrict && arg(a, i).Kind() != php.String {
		return "", false
	}
	return stringArg(a, i)
}

// coerceStr is a string parameter that refuses null in either mode.
func (in *interp) coerceStr(v php.Value) (string, bool) {
	if in.argStrict && v.Kind() != php.String {
		return "", false
	}
	return v.CoerceString()
}

// intArg is an int parameter of a builtin: only an int under
// declare(strict_types=1), else what PHP coerces.
func (in *interp) intArg(v php.Value) (int64, bool) {
	if in.argStrict && v.Kind() != php.Int {
		return 0, false
	}
	return v.CoerceInt()
}

// stringArg is a non-strict string parameter; null becomes "" (PHP 8.1
// deprecation, still accepted).
func stringArg(a []php.Value, i int) (string, bool) {
	v := arg(a, i)
	if v.IsNull() {
		return "", true
	}
	return v.CoerceString()
}

func strPred(f func(a, b string) bool) builtin {
	return func(in *interp, line int, a []php.Value) php.Value {
		h, ok1 := in.strArg(a, 0)
		n, ok2 := in.strArg(a, 1)
		if !ok1 || !ok2 {
			return in.failed(line, "TypeError: expects string arguments")
		}
		return php.BoolValue(f(h, n))
	}
}

func typePred(f func(php.Value) bool) builtin {
	return func(in *interp, line int, a []php.Value) php.Value { return php.BoolValue(f(arg(a, 0))) }
}

func fnStrlen(in *interp, line int, a []php.Value) php.Value {
	s, ok := in.strArg(a, 0)
	if !ok {
		return in.failed(line, "TypeError: strlen() expects a string")
	}
	return php.IntValue(int64(len(s)))
}

// trimMask expands PHP's character list ("a..z" ranges).
func trimMask(list string) [256]bool {
	var m [256]bool
	for i := 0; i < len(list); i++ {
		if i+3 < len(list) && list[i+1] == '.' && list[i+2] == '.' && list[i+3] >= list[i] {
			for c := int(list[i]); c <= int(list[i+3]); c++ {
				m[c] = true
			}
			i += 3
			continue
		}
		m[list[i]] = true
	}
	return m
}

// trimFn: mode 1 left, 2 right, 3 both.
func trimFn(mode int) builtin {
	return func(in *interp, line int, a []php.Value) php.Value {
		s, ok := in.strArg(a, 0)
		if !ok {
			return in.failed(line, "TypeError: trim() expects a string, "+arg(a, 0).TypeName()+" given")
		}
		list := " \n\r\t\v\x00"
		if len(a) > 1 {
			l, ok := in.strArg(a, 1)
			if !ok {
				return in.failed(line, "TypeError: trim() characters must be a string")
			}
			list = l
		}
		m := trimMask(list)
		i, j := 0, len(s)
		if mode&1 != 0 {
			for i < j && m[s[i]] {
				i++
			}
		}
		if mode&2 != 0 {
			for j > i && m[s[j-1]] {
				j--
			}
		}
		return php.StringValue(s[i:j])
	}
}

func fnExplode(in *interp, line int, a []php.Value) php.Value {
	sep, ok1 := in.strArg(a, 0)
	s, ok2 := in.strArg(a, 1)
	if !ok1 || !ok2 {
		return in.failed(line, "TypeError: explode() expects string arguments")
	}
	if sep == "" {
		return in.failed(line, "ValueError: explode(): Argument #1 ($separator) cannot be empty")
	}
	limit := int64(1<<62 - 1)
	if len(a) > 2 {
		l, ok := in.intArg(a[2])
		if !ok {
			return in.failed(line, "TypeError: explode(): Argument #3 ($limit) must be of type int")
		}
		limit = l
	}
	parts := strings.Split(s, sep)
	switch {
	case limit > 0 && int64(len(parts)) > limit:
		parts = append(parts[:limit-1], strings.Join(parts[limit-1:], sep))
	case limit < 0:
		if -limit >= int64(len(parts)) {
			parts = nil
		} else {
			parts = parts[:int64(len(parts))+limit]
		}
	case limit == 0 && len(parts) > 1:
		parts = []string{strings.Join(parts, sep)}
	}
	in.grow(line, len(parts))
	out := php.NewArray()
	for _, p := range parts {
		out.Append(php.StringValue(p))
	}
	return php.ArrayValue(out)
}

func fnImplode(in *interp, line int, a []php.Value) php.Value {
	var sep string
	var arr *php.OrderedArray
	switch {
	case len(a) == 1 && a[0].Kind() == php.Array:
		arr = a[0].ArrayVal()
	case len(a) == 2 && a[1].Kind() == php.Array:
		s, ok := in.coerceStr(a[0])
		if !ok {
			return in.failed(line, "TypeError: implode(): Argument #1 ($separator) must be of type string")
		}
		sep, arr = s, a[1].ArrayVal()
	default:
		return in.failed(line, "TypeError: implode(): Argument #2 ($array) must be of type ?array")
	}
	var b strings.Builder
	for i, v := range arr.Values {
		if i > 0 {
			b.WriteString(sep)
		}
		if v.IsUnknown() {
			return v
		}
		if v.Kind() == php.Array {
			b.WriteString("Array")
		} else {
			b.WriteString(v.ToString())
		}
		in.checkString(line, b.Len())
	}
	return php.StringValue(b.String())
}

func fnStrReplace(in *interp, line int, a []php.Value) php.Value {
	if len(a) < 3 {
		return in.failed(line, "ArgumentCountError: str_replace() expects 3 arguments")
	}
	search, replace, subject := a[0], a[1], a[2]
	var pairs [][2]string
	if search.Kind() == php.Array {
		var reps []php.Value
		if replace.Kind() == php.Array {
			reps = replace.ArrayVal().Values
		}
		for i, s := range search.ArrayVal().Values {
			r := ""
			if replace.Kind() != php.Array {
				r = replace.ToString()
			} else if i < len(reps) {
				r = reps[i].ToString()
			}
			pairs = append(pairs, [2]string{s.ToString(), r})
		}
	} else {
		if replace.Kind() == php.Array {
			return in.failed(line, "TypeError: str_replace(): Argument #2 ($replace) must be of type string when argument #1 ($search) is a string")
		}
		pairs = [][2]string{{search.ToString(), replace.ToString()}}
	}
	do := func(s string) php.Value {
		for _, p := range pairs {
			if p[0] == "" {
				continue
			}
			if n := strings.Count(s, p[0]); n > 0 {
				in.checkString(line, len(s)+n*(len(p[1])-len(p[0])))
			}
			s = strings.ReplaceAll(s, p[0], p[1])
		}
		return php.StringValue(s)
	}
	if subject.Kind() == php.Array {
		out := php.NewArray()
		src := subject.ArrayVal()
		in.grow(line, src.Len())
		for i, k := range src.Keys {
			out.Set(k, do(src.Values[i].ToString())) // nested arrays read as "Array"
		}
		return php.ArrayValue(out)
	}
	return do(subject.ToString())
}

func fnSubstr(in *interp, line int, a []php.Value) php.Value {
	s, ok := in.strArg(a, 0)
	start, ok2 := in.intArg(arg(a, 1))
	if !ok || !ok2 {
		return in.failed(line, "TypeError: substr() argument types")
	}
	n := int64(len(s))
	if start < 0 {
		start = max(n+start, 0)
	}
	if start > n {
		return php.StringValue("")
	}
	end := n
	if len(a) > 2 && !a[2].IsNull() {
		l, ok := in.intArg(a[2])
		if !ok {
			return in.failed(line, "TypeError: substr() length must be int")
		}
		if l < 0 {
			end = n + l
		} else {
			end = min(start+l, n)
		}
	}
	if end < start {
		return php.StringValue("")
	}
	return php.StringValue(s[start:end])
}

func fnIntval(in *interp, line int, a []php.Value) php.Value {
	v := arg(a, 0)
	if len(a) > 1 && v.Kind() == php.String {
		b, ok := in.intArg(a[1])
		if !ok {
			return in.failed(line, "TypeError: intval(): Argument #2 ($base) must be of type int, "+a[1].TypeName()+" given")
		}
		if b != 10 && b >= 0 && b <= 36 {
			s := strings.TrimSpace(v.StringVal())
			neg := strings.HasPrefix(s, "-")
			s = strings.TrimLeft(s, "+-")
			low := strings.ToLower(s)
			if b == 16 {
				low = strings.TrimPrefix(low, "0x")
			} else if b == 8 {
				low = strings.TrimPrefix(low, "0o")
			} else if b == 2 {
				low = strings.TrimPrefix(low, "0b")
			} else if b == 0 {
				switch {
				case strings.HasPrefix(low, "0x"):
					b, low = 16, low[2:]
				case strings.HasPrefix(low, "0b"):
					b, low = 2, low[2:]
				case strings.HasPrefix(low, "0") && len(low) > 1:
					b, low = 8, low[1:]
				default:
					b = 10
				}
			}
			j := 0
			for j < len(low) {
				d, err := strconv.ParseInt(low[j:j+1], int(b), 64)
				if err != nil || d < 0 {
					break
				}
				j++
			}
			n, _ := strconv.ParseInt(low[:j], int(b), 64)
			if neg {
				n = -n
			}
			return php.IntValue(n)
		}
	}
	return php.IntValue(v.ToInt())
}

// fnDirname is dirname($path, $levels) for Unix paths.
func fnDirname(in *interp, line int, a []php.Value) php.Value {
	p, ok := in.strArg(a, 0)
	if !ok {
		return in.failed(line, "TypeError: dirname(): Argument #1 ($path) must be of type string")
	}
	levels := int64(1)
	if len(a) > 1 {
		levels = a[1].ToInt()
		if levels < 1 {
			return in.failed(line, "ValueError: dirname(): Argument #2 ($levels) must be greater than or equal to 1")
		}
	}
	for i := int64(0); i < levels && i < 4096; i++ {
		next := phpDirname(p)
		if next == p {
			break
		}
		p = next
	}
	return php.StringValue(p)
}

func phpDirname(p string) string {
	if p == "" {
		return ""
	}
	t := strings.TrimRight(p, "/")
	if t == "" {
		return "/"
	}
	i := strings.LastIndexByte(t, '/')
	switch {
	case i < 0:
		return "."
	case i == 0:
		return "/"
	}
	d := strings.TrimRight(t[:i], "/")
	if d == "" {
		return "/"
	}
	return d
}

func fnBasename(in *interp, line int, a []php.Value) php.Value {
	p, ok := in.strArg(a, 0)
	if !ok {
		return in.failed(line, "TypeError: basename(): Argument #1 ($path) must be of type string")
	}
	p = strings.TrimRight(p, "/")
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		p = p[i+1:]
	}
	if len(a) > 1 {
		suffix := a[1].ToString()
		if suffix != "" && suffix != p && strings.HasSuffix(p, suffix) {
			p = strings.TrimSuffix(p, suffix)
		}
	}
	return php.StringValue(p)
}

func ucwords(s string) string {
	b := []byte(s)
	up := true
	for i, c := range b {
		if up && c >= 'a' && c <= 'z' {
			b[i] = c - 32
		}
		up = c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v'
	}
	return string(b)
}

func fnStrPad(in *interp, line int, a []php.Value) php.Value {
	s, ok := in.strArg(a, 0)
	n, ok2 := in.intArg(arg(a, 1))
	if !ok || !ok2 {
		return in.failed(line, "TypeError: str_pad() argument types")
	}
	pad := " "
	if len(a) > 2 {
		pad = a[2].ToString()
		if pad == "" {
			return in.failed(line, "ValueError: str_pad(): Argument #3 ($pad_string) must be a non-empty string")
		}
	}
	mode := int64(1) // STR_PAD_RIGHT
	if len(a) > 3 {
		mode = a[3].ToInt()
	}
	missing := int(n) - len(s)
	if missing <= 0 {
		return php.StringValue(s)
	}
	in.checkString(line, int(n))
	fill := func(k int) string {
		return strings.Repeat(pad, k/len(pad)+1)[:k]
	}
	switch mode {
	case 0:
		return php.StringValue(fill(missing) + s)
	case 2:
		left := missing / 2
		return php.StringValue(fill(left) + s + fill(missing-left))
	}
	return php.StringValue(s + fill(missing))
}

// ---- arrays ----

func arrayArg(in *interp, line int, a []php.Value, i int, fn string) (*php.OrderedArray, php.Value) {
	v := arg(a, i)
	if v.Kind() != php.Array {
		return nil, in.failed(line, fmt.Sprintf("TypeError: %s(): Argument #%d must be of type array, %s given", fn, i+1, v.TypeName()))
	}
	return v.ArrayVal(), php.Value{}
}

func fnArrayMap(in *interp, line int, a []php.Value) php.Value {
	if len(a) < 2 {
		return in.failed(line, "ArgumentCountError: array_map() expects at least 2 arguments")
	}
	cb := a[0]
	if len(a) == 2 {
		src, bad := arrayArg(in, line, a, 1, "array_map")
		if src == nil {
			return bad
		}
		if cb.IsNull() {
			return a[1]
		}
		out := php.NewArray()
		in.grow(line, src.Len())
		for i, k := range src.Keys {
			v := src.Values[i]
			if v.IsUnknown() {
				out.Set(k, v)
				continue
			}
			out.Set(k, in.callValue(line, cb, []php.Value{v}))
		}
		if src.IsList() {
			out.NextIndex = int64(out.Len())
		}
		return php.ArrayValue(out)
	}
	var arrays []*php.OrderedArray
	longest := 0
	for i := 1; i < len(a); i++ {
		src, bad := arrayArg(in, line, a, i, "array_map")
		if src == nil {
			return bad
		}
		arrays = append(arrays, src)
		longest = max(longest, src.Len())
	}
	out := php.NewArray()
	in.grow(line, longest)
	for j := 0; j < longest; j++ {
		row := make([]php.Value, len(arrays))
		for i, arr := range arrays {
			if j < arr.Len() {
				row[i] = arr.Values[j]
			}
		}
		if cb.IsNull() {
			out.Append(php.ListValue(row...))
		} else {
			out.Append(in.callValue(line, cb, row))
		}
	}
	return php.ArrayValue(out)
}

func fnArrayFilter(in *interp, line int, a []php.Value) php.Value {
	src, bad := arrayArg(in, line, a, 0, "array_filter")
	if src == nil {
		return bad
	}
	cb := arg(a, 1)
	mode := arg(a, 2).ToInt()
	out := php.NewArray()
	for i, k := range src.Keys {
		v := src.Values[i]
		var keep php.Value
		switch {
		case cb.IsNull():
			keep = v
		case mode == 2: // ARRAY_FILTER_USE_KEY
			keep = in.callValue(line, cb, []php.Value{k.KeyValue()})
		case mode == 1: // ARRAY_FILTER_USE_BOTH
			keep = in.callValue(line, cb, []php.Value{v, k.KeyValue()})
		default:
			keep = in.callValue(line, cb, []php.Value{v})
		}
		if keep.IsUnknown() {
			return keep
		}
		if keep.ToBool() {
			out.Set(k, v)
		}
	}
	out.NextIndex = src.NextIndex
	return php.ArrayValue(out)
}

func fnArrayValues(in *interp, line int, a []php.Value) php.Value {
	src, bad := arrayArg(in, line, a, 0, "array_values")
	if src == nil {
		return bad
	}
	in.grow(line, src.Len())
	return php.ListValue(src.Values...)
}

func fnArrayKeys(in *interp, line int, a []php.Value) php.Value {
	src, bad := arrayArg(in, line, a, 0, "array_keys")
	if src == nil {
		return bad
	}
	in.grow(line, src.Len())
	out := php.NewArray()
	for i, k := range src.Keys {
		if len(a) > 1 {
			strict := arg(a, 2).ToBool()
			if strict && !php.StrictEquals(src.Values[i], a[1]) || !strict && !php.LooseEquals(src.Values[i], a[1]) {
				continue
			}
		}
		out.Append(k.KeyValue())
	}
	return php.ArrayValue(out)
}

// fnArrayUnique keeps the first of values equal as strings (SORT_STRING).
func fnArrayUnique(in *interp, line int, a []php.Value) php.Value {
	src, bad := arrayArg(in, line, a, 0, "array_unique")
	if src == nil {
		return bad
	}
	seen := map[string]bool{}
	out := php.NewArray()
	for i, k := range src.Keys {
		v := src.Values[i]
		if v.IsUnknown() {
			return v
		}
		s := v.ToString()
		if seen[s] {
			continue
		}
		seen[s] = true
		out.Set(k, v)
	}
	out.NextIndex = src.NextIndex
	return php.ArrayValue(out)
}

func fnArrayMerge(in *interp, line int, a []php.Value) php.Value {
	out := php.NewArray()
	for i := range a {
		src, bad := arrayArg(in, line, a, i, "array_merge")
		if src == nil {
			return bad
		}
		in.grow(line, src.Len())
		for j, k := range src.Keys {
			if k.IsInt {
				out.Append(src.Values[j])
			} else {
				out.Set(k, src.Values[j])
			}
		}
	}
	return php.ArrayValue(out)
}

func fnArrayKeyExists(in *interp, line int, a []php.Value) php.Value {
	arr, bad := arrayArg(in, line, a, 1, "array_key_exists")
	if arr == nil {
		return bad
	}
	k, ok := arrayKey(arg(a, 0))
	if !ok {
		return in.failed(line, "TypeError: array_key_exists(): Argument #1 ($key) must be a valid array offset type")
	}
	_, found := arr.Get(k)
	return php.BoolValue(found)
}

func fnInArray(in *interp, line int, a []php.Value) php.Value {
	hay, bad := arrayArg(in, line, a, 1, "in_array")
	if hay == nil {
		return bad
	}
	strict := arg(a, 2).ToBool()
	for _, v := range hay.Values {
		if v.IsUnknown() {
			return v
		}
		if strict && php.StrictEquals(v, a[0]) || !strict && php.LooseEquals(v, a[0]) {
			return php.BoolValue(true)
		}
	}
	return php.BoolValue(false)
}

func fnCount(in *interp, line int, a []php.Value) php.Value {
	src, bad := arrayArg(in, line, a, 0, "count")
	if src == nil {
		return bad
	}
	if arg(a, 1).ToInt() == 1 { // COUNT_RECURSIVE
		var rec func(*php.OrderedArray) int64
		rec = func(x *php.OrderedArray) int64 {
			n := int64(x.Len())
			for _, v := range x.Values {
				if v.Kind() == php.Array {
					n += rec(v.ArrayVal())
				}
			}
			return n
		}
		return php.IntValue(rec(src))
	}
	return php.IntValue(int64(src.Len()))
}

// ---- filter_var ----

const (
	filterValidateInt  = 257
	filterValidateBool = 258
	filterDefault      = 516
	filterNullOnFail   = 0x8000000
)

func fnFilterVar(in *interp, line int, a []php.Value) php.Value {
	v := arg(a, 0)
	filter := int64(filterDefault)
	if len(a) > 1 {
		filter = a[1].ToInt()
	}
	var flags int64
	if len(a) > 2 {
		if a[2].Kind() == php.Array {
			if f, ok := a[2].ArrayVal().GetString("flags"); ok {
				flags = f.ToInt()
			}
		} else {
			flags = a[2].ToInt()
		}
	}
	fail := php.BoolValue(false)
	if flags&filterNullOnFail != 0 {
		fail = php.NullValue()
	}
	if v.Kind() == php.Array {
		return fail
	}
	switch filter {
	case filterValidateBool:
		if v.Kind() == php.Bool {
			return v
		}
		switch strings.ToLower(strings.TrimSpace(v.ToString())) {
		case "1", "true", "on", "yes":
			return php.BoolValue(true)
		case "0", "false", "off", "no", "":
			if v.IsNull() || v.ToString() == "" {
				if flags&filterNullOnFail != 0 && !v.IsNull() {
					return php.BoolValue(false)
				}
			}
			return php.BoolValue(false)
		}
		return fail
	case filterValidateInt:
		s := strings.TrimSpace(v.ToString())
		if v.Kind() == php.Int {
			return v
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || (len(strings.TrimLeft(s, "+-")) > 1 && strings.TrimLeft(s, "+-")[0] == '0') {
			return fail
		}
		return php.IntValue(n)
	case filterDefault:
		return php.StringValue(v.ToString())
	}
	return in.unknown(line, "filter_var filter "+strconv.FormatInt(filter, 10))
}

// ---- sprintf ----

func fnSprintf(in *interp, line int, a []php.Value) php.Value {
	format, ok := in.strArg(a, 0)
	if !ok {
		return in.failed(line, "TypeError: sprintf(): Argument #1 ($format) must be of type string")
	}
	var b strings.Builder
	next := 1
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		i++
		if i >= len(format) {
			return in.failed(line, "ValueError: Missing format specifier at end of string")
		}
		if format[i] == '%' {
			b.WriteByte('%')
			continue
		}
		// %[argnum$][flags][width][.precision]specifier
		j := i
		for j < len(format) && format[j] >= '0' && format[j] <= '9' {
			j++
		}
		argIdx := 0
		if j < len(format) && format[j] == '$' && j > i {
			n, _ := strconv.Atoi(format[i:j])
			argIdx = n
			i = j + 1
		}
		leftAlign, plus, pad := false, false, byte(' ')
		for i < len(format) {
			switch format[i] {
			case '-':
				leftAlign = true
			case '+':
				plus = true
			case '0':
				pad = '0'
			case ' ':
				pad = ' '
			case '\'':
				if i+1 < len(format) {
					i++
					pad = format[i]
				}
			default:
				goto width
			}
			i++
		}
	width:
		w := 0
		for i < len(format) && format[i] >= '0' && format[i] <= '9' {
			w = w*10 + int(format[i]-'0')
			if w > 1<<16 {
				return in.failed(line, "sprintf width too large")
			}
			i++
		}
		prec := -1
		if i < len(format) && format[i] == '.' {
			i++
			prec = 0
			for i < len(format) && format[i] >= '0' && format[i] <= '9' {
				prec = prec*10 + int(format[i]-'0')
				if prec > 100 {
					prec = 100
				}
				i++
			}
		}
		if i >= len(format) {
			return in.failed(line, "ValueError: Missing format specifier at end of string")
		}
		var v php.Value
		if argIdx > 0 {
			if argIdx >= len(a) {
				return in.failed(line, "ArgumentCountError: sprintf() too few arguments")
			}
			v = a[argIdx]
		} else {
			if next >= len(a) {
				return in.failed(line, fmt.Sprintf("ArgumentCountError: %d arguments are required, %d given", next+1, len(a)))
			}
			v = a[next]
			next++
		}
		var s string
		switch format[i] {
		case 's':
			s = v.ToString()
			if prec >= 0 && prec < len(s) {
				s = s[:prec]
			}
		case 'd', 'i':
			n := v.ToInt()
			s = strconv.FormatInt(n, 10)
			if plus && n >= 0 {
				s = "+" + s
			}
		case 'u':
			s = strconv.FormatUint(uint64(v.ToInt()), 10)
		case 'f', 'F', 'e', 'E':
			if prec < 0 {
				prec = 6
			}
			prec = min(prec, 53) // PHP's MAX_FLOAT_PRECISION
			f := v.ToFloat()
			if math.IsInf(f, 0) || math.IsNaN(f) {
				// PHP 8.2 prints these bare, ignoring width; with
				// zero padding a sign replaces the first letter ("-NF").
				str := "INF"
				if math.IsNaN(f) {
					str = "NaN"
				}
				if pad == '0' && !leftAlign && (f < 0 || plus) {
					sign := "+"
					if f < 0 {
						sign = "-"
					}
					str = sign + str[1:]
				}
				b.WriteString(str)
				continue
			}
			if f == 0 {
				f = 0 // PHP prints -0.0 as 0.0
			}
			if format[i] == 'e' || format[i] == 'E' {
				// 1.5e+3: the exponent without leading zeros.
				m, exp, _ := strings.Cut(strconv.FormatFloat(f, 'e', prec, 64), "e")
				sign, digits := exp[:1], strings.TrimLeft(exp[1:], "0")
				if digits == "" {
					digits = "0"
				}
				s = m + string(format[i]) + sign + digits
			} else {
				s = strconv.FormatFloat(f, 'f', prec, 64)
			}
			if plus && f >= 0 {
				s = "+" + s
			}
		case 'x':
			s = strconv.FormatUint(uint64(v.ToInt()), 16)
		case 'X':
			s = strings.ToUpper(strconv.FormatUint(uint64(v.ToInt()), 16))
		case 'o':
			s = strconv.FormatUint(uint64(v.ToInt()), 8)
		case 'b':
			s = strconv.FormatUint(uint64(v.ToInt()), 2)
		case 'c':
			s = string([]byte{byte(v.ToInt())})
		default:
			return in.failed(line, fmt.Sprintf("ValueError: Unknown format specifier %q", format[i]))
		}
		if len(s) < w {
			padding := strings.Repeat(string(pad), w-len(s))
			if leftAlign {
				if pad == '0' {
					padding = strings.Repeat(" ", w-len(s))
				}
				s += padding
			} else if pad == '0' && (strings.HasPrefix(s, "-") || strings.HasPrefix(s, "+")) {
				s = s[:1] + padding + s[1:]
			} else {
				s = padding + s
			}
		}
		b.WriteString(s)
		in.checkString(line, b.Len())
	}
	return php.StringValue(b.String())
}

// ---- parse_url ----

// fnParseURL is parse_url($url[, $component]) over ParseURL.
func fnParseURL(in *interp, line int, a []php.Value) php.Value {
	s, ok := in.strArg(a, 0)
	if !ok {
		return in.failed(line, "TypeError: parse_url(): Argument #1 ($url) must be of type string")
	}
	comp := int64(-1)
	if len(a) > 1 {
		comp = a[1].ToInt()
	}
	parts, ok := ParseURL(s)
	if !ok {
		return php.BoolValue(false)
	}
	if comp >= 0 {
		if comp >= int64(len(urlComponents)) {
			return in.failed(line, "ValueError: parse_url(): Argument #2 ($component) must be a valid URL component identifier")
		}
		v, _ := parts.GetString(urlComponents[comp])
		return v
	}
	return php.ArrayValue(parts)
}

// sortedBuiltinNames lists the supported functions (for docs and tests).
func sortedBuiltinNames() []string {
	names := make([]string, 0, len(builtins))
	for n := range builtins {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
