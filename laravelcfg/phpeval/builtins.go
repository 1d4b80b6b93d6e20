package phpeval

// The PHP functions a config file may call: the registry and how a call is evaluated.

import (
	"fmt"
	"sort"
	"strings"

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
		"max":              minMax(true),
		"min":              minMax(false),
		"range":            fnRange,
		"array_combine":    fnArrayCombine,
		"array_slice":      fnArraySlice,
		"getenv":           fnGetenv,
		"json_encode":      fnJSONEncode,
		"define":           fnDefine,
		"defined":          fnDefined,
		"constant":         fnConstant,
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

func arrayArg(in *interp, line int, a []php.Value, i int, fn string) (*php.OrderedArray, php.Value) {
	v := arg(a, i)
	if v.Kind() != php.Array {
		return nil, in.failed(line, fmt.Sprintf("TypeError: %s(): Argument #%d must be of type array, %s given", fn, i+1, v.TypeName()))
	}
	return v.ArrayVal(), php.Value{}
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
