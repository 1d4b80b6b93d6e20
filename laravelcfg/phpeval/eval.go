// Package phpeval evaluates Laravel config files (config/*.php and the
// bootstrap/cache/config.php var_export dump) without PHP: a tokenizer,
// parser and tree-walking evaluator for the small PHP subset config files
// use. It executes nothing else: unsupported constructs (unknown functions,
// new, method calls, includes, backticks...) evaluate to php.Unknown naming
// file:line and the construct, and only become errors when a caller needs
// that value. Hostile input is bounded by Limits.
package phpeval

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/reverb-go/reverb/laravelcfg/php"
)

// Limits bound the evaluation of one file.
type Limits struct {
	// MaxSteps is the number of expression evaluations allowed.
	MaxSteps int
	// MaxDepth bounds nested closure calls.
	MaxDepth int
	// MaxString is the longest string a single operation may build.
	MaxString int
	// MaxElements bounds the total number of array elements created.
	MaxElements int
}

// DefaultLimits are generous for config files (a few thousand steps) and
// small enough that hostile input fails fast.
var DefaultLimits = Limits{MaxSteps: 2_000_000, MaxDepth: 64, MaxString: 1 << 20, MaxElements: 200_000}

// Options configure one evaluation.
type Options struct {
	// File is the name used in messages ("config/reverb.php").
	File string
	// Path is the file's absolute path, for __FILE__ and __DIR__; EvalFile
	// sets it. Empty makes those Unknown.
	Path string
	// BasePath is the Laravel project root, for base_path() and friends.
	BasePath string
	// Getenv is what env() reads (the real environment first, then .env);
	// nil means no variable is set.
	Getenv func(name string) (string, bool)
	// ProcessEnv is what getenv() reads: the process environment, into
	// which Laravel's .env loader also puts (putenv) the variables .env
	// defined, but not the $_SERVER-only entries env() sees (PHP_SELF...);
	// nil makes getenv() a value that cannot be computed.
	ProcessEnv func(name string) (string, bool)
	// Limits; zero fields take DefaultLimits.
	Limits Limits
}

// Result is a file's return value plus what the evaluator skipped.
type Result struct {
	Value php.Value
	// Returned is false when the file ended without a return statement
	// (include then yields int 1 in PHP; config files always return).
	Returned bool
	// Warnings name statements that were skipped, as "file:line: ...".
	Warnings []string
	// Unknowns counts the Unknown values created (unsupported constructs
	// and runtime errors PHP would throw), used or not.
	Unknowns int
}

// Error is a parse error or an evaluation abort, with its location.
type Error struct {
	File string
	Line int
	Msg  string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return e.File + ": " + e.Msg
}

// EvalFile reads and evaluates a PHP file; opts.File defaults to path.
func EvalFile(path string, opts Options) (Result, error) {
	if opts.File == "" {
		opts.File = path
	}
	if opts.Path == "" {
		if abs, err := filepath.Abs(path); err == nil {
			opts.Path = abs
		}
	}
	src, err := os.ReadFile(path)
	if err != nil {
		return Result{}, err
	}
	return Eval(src, opts)
}

// maxSource bounds the size of a file we agree to parse.
const maxSource = 8 << 20

// Eval evaluates PHP source and returns the value of its top-level return.
func Eval(src []byte, opts Options) (res Result, err error) {
	if opts.File == "" {
		opts.File = "(source)"
	}
	if len(src) > maxSource {
		return Result{}, &Error{File: opts.File, Msg: "file too large"}
	}
	l := opts.Limits
	d := DefaultLimits
	if l.MaxSteps <= 0 {
		l.MaxSteps = d.MaxSteps
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = d.MaxDepth
	}
	if l.MaxString <= 0 {
		l.MaxString = d.MaxString
	}
	if l.MaxElements <= 0 {
		l.MaxElements = d.MaxElements
	}
	opts.Limits = l
	stmts, perr := parseProgram(string(src))
	if perr != nil {
		return Result{}, &Error{File: opts.File, Line: perr.line, Msg: "PHP parse error: " + perr.msg}
	}
	in := &interp{opts: opts, aliases: map[string]string{}}
	defer func() {
		if r := recover(); r != nil {
			ae, ok := r.(*abortError)
			if !ok {
				panic(r)
			}
			res, err = Result{}, &Error{File: opts.File, Line: ae.line, Msg: ae.msg}
		}
	}()
	sc := &scope{vars: map[string]php.Value{}}
	v, returned := in.execBlock(stmts, sc)
	if !returned {
		v = php.IntValue(1)
	}
	return Result{Value: v, Returned: returned, Warnings: in.warnings, Unknowns: in.unknowns}, nil
}

// abortError stops evaluation (limits exceeded); recovered in Eval.
type abortError struct {
	line int
	msg  string
}

var errNotCallable = errors.New("value is not callable")

// interp is the state of one evaluation. It is used by one goroutine only.
type interp struct {
	opts     Options
	steps    int
	depth    int
	elements int
	aliases  map[string]string // lower-case alias -> fully qualified name
	warnings []string
	unknowns int
	// defined are the constants define() created in this file.
	defined map[string]php.Value
	// strict is set by declare(strict_types=1); argStrict while a builtin
	// called from the file's code (not as a callback of another builtin)
	// runs: its string and int parameters then take only those types.
	strict, argStrict bool
}

type scope struct {
	vars map[string]php.Value
}

// closure is the payload of a php.Closure value.
type closure struct {
	node     *closureNode
	captured map[string]php.Value // use(...) vars, or the whole parent scope for fn
}

func (in *interp) where(line int) string { return fmt.Sprintf("%s:%d", in.opts.File, line) }

func (in *interp) unknown(line int, what string) php.Value {
	in.unknowns++
	return php.UnknownValue("unsupported construct "+what, in.where(line))
}

// failed is an Unknown for a runtime error PHP would throw (TypeError,
// ValueError...): the value cannot be known.
func (in *interp) failed(line int, msg string) php.Value {
	in.unknowns++
	return php.UnknownValue(msg, in.where(line))
}

func (in *interp) abort(line int, format string, args ...any) {
	panic(&abortError{line, fmt.Sprintf(format, args...)})
}

func (in *interp) step(line int) {
	in.steps++
	if in.steps > in.opts.Limits.MaxSteps {
		in.abort(line, "evaluation limit exceeded (%d steps)", in.opts.Limits.MaxSteps)
	}
}

// cost charges work proportional to n (array copies, scans), so that
// quadratic programs hit MaxSteps instead of running for minutes.
func (in *interp) cost(line int, n int) {
	in.steps += n
	in.step(line)
}

func (in *interp) checkString(line int, n int) {
	if n > in.opts.Limits.MaxString {
		in.abort(line, "string longer than %d bytes", in.opts.Limits.MaxString)
	}
}

func (in *interp) grow(line int, n int) {
	in.elements += n
	if in.elements > in.opts.Limits.MaxElements {
		in.abort(line, "more than %d array elements", in.opts.Limits.MaxElements)
	}
}

// ---- statements ----

func (in *interp) execBlock(stmts []stmt, sc *scope) (php.Value, bool) {
	for _, s := range stmts {
		if v, ret := in.exec(s, sc); ret {
			return v, true
		}
	}
	return php.Value{}, false
}

func (in *interp) exec(s stmt, sc *scope) (php.Value, bool) {
	in.step(s.pos())
	switch s := s.(type) {
	case *returnStmt:
		if s.x == nil {
			return php.NullValue(), true
		}
		return in.eval(s.x, sc), true
	case *exprStmt:
		in.eval(s.x, sc)
	case *strictTypesStmt:
		in.strict = true
	case *useStmt:
		in.aliases[strings.ToLower(s.alias)] = s.name
	case *skippedStmt:
		in.warnings = append(in.warnings, fmt.Sprintf("%s: unsupported statement %s skipped", in.where(s.line), s.what))
		for _, name := range s.assigned {
			sc.vars[name] = in.unknown(s.line, "$"+name+" written by a "+s.what+" statement")
		}
		if s.returns {
			// PHP may return from inside it: the file's value is unknowable.
			return in.unknown(s.line, "return inside a "+s.what+" statement"), true
		}
	case *ifStmt:
		for i, c := range s.conds {
			cv := in.eval(c, sc)
			if cv.IsUnknown() {
				// The branch taken is unknowable: variables it would set
				// become Unknown, and a return in it makes the result
				// Unknown.
				return in.poisonBranches(s, sc, cv)
			}
			if cv.ToBool() {
				return in.execBlock(s.bodies[i], sc)
			}
		}
		if s.els != nil {
			return in.execBlock(s.els, sc)
		}
	}
	return php.Value{}, false
}

// poisonBranches handles an if whose condition is Unknown.
func (in *interp) poisonBranches(s *ifStmt, sc *scope, cond php.Value) (php.Value, bool) {
	returns := false
	var visit func([]stmt)
	visit = func(b []stmt) {
		for _, st := range b {
			switch st := st.(type) {
			case *returnStmt:
				returns = true
			case *exprStmt:
				if a, ok := st.x.(*assignNode); ok {
					if v := rootVar(a.target); v != "" {
						sc.vars[v] = cond
					}
				}
			case *ifStmt:
				for _, bb := range st.bodies {
					visit(bb)
				}
				visit(st.els)
			}
		}
	}
	for _, b := range s.bodies {
		visit(b)
	}
	visit(s.els)
	if returns {
		return cond, true
	}
	return php.Value{}, false
}

// superglobals are filled by PHP (and $_ENV and $_SERVER by the .env
// loader too, without env()'s conversions, $_ENV depending on php.ini's
// variables_order): reading one is not reading an undefined local.
var superglobals = map[string]bool{
	"_ENV": true, "_SERVER": true, "GLOBALS": true, "_GET": true, "_POST": true,
	"_COOKIE": true, "_FILES": true, "_REQUEST": true, "_SESSION": true,
}

func rootVar(n node) string {
	switch n := n.(type) {
	case *varNode:
		return n.name
	case *indexNode:
		return rootVar(n.x)
	}
	return ""
}

// ---- expressions ----

func (in *interp) eval(n node, sc *scope) php.Value {
	in.step(n.pos())
	switch n := n.(type) {
	case *litNode:
		return n.v
	case *templateNode:
		return in.evalTemplate(n, sc)
	case *varNode:
		if n.name == "this" || superglobals[n.name] {
			return in.unknown(n.line, "$"+n.name)
		}
		return sc.vars[n.name]
	case *arrayNode:
		return in.evalArray(n, sc)
	case *indexNode:
		if n.key == nil {
			return in.failed(n.line, "cannot use [] for reading")
		}
		return in.index(n.line, in.eval(n.x, sc), in.eval(n.key, sc))
	case *callNode:
		return in.evalCall(n, sc)
	case *dynCallNode:
		fn := in.eval(n.fn, sc)
		if fn.IsUnknown() {
			return fn
		}
		args, bad := in.evalArgs(n.args, sc)
		if bad.IsUnknown() {
			return bad
		}
		return in.callValueAs(n.line, fn, args, in.strict)
	case *staticCallNode:
		return in.evalStaticCall(n, sc)
	case *classConstNode:
		return in.classConst(n)
	case *constNode:
		return in.constant(n)
	case *unaryNode:
		return in.evalUnary(n, sc)
	case *binaryNode:
		return in.evalBinary(n, sc)
	case *ternaryNode:
		c := in.eval(n.cond, sc)
		if c.IsUnknown() {
			return c
		}
		if c.ToBool() {
			if n.then == nil {
				return c
			}
			return in.eval(n.then, sc)
		}
		return in.eval(n.els, sc)
	case *castNode:
		return in.cast(n, in.eval(n.x, sc))
	case *assignNode:
		return in.assign(n, sc)
	case *issetNode:
		for _, x := range n.xs {
			v := in.evalQuiet(x, sc)
			if v.IsUnknown() {
				return v
			}
			if v.IsNull() {
				return php.BoolValue(false)
			}
		}
		return php.BoolValue(true)
	case *emptyNode:
		v := in.evalQuiet(n.x, sc)
		if v.IsUnknown() {
			return v
		}
		return php.BoolValue(!v.ToBool())
	case *closureNode:
		c := &closure{node: n, captured: map[string]php.Value{}}
		if n.expr != nil {
			// Arrow functions capture the parent scope by value.
			in.cost(n.line, len(sc.vars))
			for k, v := range sc.vars {
				c.captured[k] = v
			}
		} else {
			for _, u := range n.uses {
				c.captured[u] = sc.vars[u]
			}
		}
		return php.ClosureValue(c)
	case *matchNode:
		subj := in.eval(n.subject, sc)
		if subj.IsUnknown() {
			return subj
		}
		for _, arm := range n.arms {
			if arm.conds == nil {
				continue
			}
			for _, c := range arm.conds {
				cv := in.eval(c, sc)
				if cv.IsUnknown() {
					return cv
				}
				if php.StrictEquals(subj, cv) {
					return in.eval(arm.val, sc)
				}
			}
		}
		for _, arm := range n.arms {
			if arm.conds == nil {
				return in.eval(arm.val, sc)
			}
		}
		return in.failed(n.line, "UnhandledMatchError")
	case *unsupportedNode:
		return in.unknown(n.line, n.what)
	}
	return in.unknown(n.pos(), fmt.Sprintf("%T", n))
}

// evalQuiet evaluates for isset/empty/??: missing keys and variables, and
// offsets that would throw on a string, are null without complaint.
func (in *interp) evalQuiet(n node, sc *scope) php.Value {
	ix, ok := n.(*indexNode)
	if !ok || ix.key == nil {
		return in.eval(n, sc)
	}
	in.step(ix.line)
	base := in.evalQuiet(ix.x, sc)
	key := in.eval(ix.key, sc)
	if base.Kind() == php.String && !key.IsUnknown() {
		i, ok := key.CoerceInt()
		if !ok || key.Kind() == php.String && !isIntString(key.StringVal()) {
			return php.NullValue()
		}
		if n := int64(len(base.StringVal())); i >= n || i < -n {
			return php.NullValue() // isset('abc'[5]) is false
		}
	}
	return in.index(ix.line, base, key)
}

// isIntString: only integer-like strings are string offsets in isset().
func isIntString(s string) bool {
	v, ok := php.NumericString(s)
	return ok && v.Kind() == php.Int && strings.TrimSpace(s) == s
}

func (in *interp) evalTemplate(n *templateNode, sc *scope) php.Value {
	var b strings.Builder
	for _, p := range n.parts {
		if !p.isVar {
			b.WriteString(p.lit)
			continue
		}
		if p.bad != "" {
			return in.unknown(n.line, p.bad)
		}
		v := sc.vars[p.varName]
		if p.varName == "this" || superglobals[p.varName] {
			return in.unknown(n.line, "$"+p.varName)
		}
		if p.keyLit != nil {
			v = in.index(n.line, v, php.StringValue(*p.keyLit))
		}
		if v.IsUnknown() {
			return v
		}
		b.WriteString(v.ToString())
		in.checkString(n.line, b.Len())
	}
	return php.StringValue(b.String())
}

func (in *interp) evalArray(n *arrayNode, sc *scope) php.Value {
	a := php.NewArray()
	for _, it := range n.items {
		if it.val == nil {
			return in.failed(n.line, "Cannot use empty array elements in arrays")
		}
		if it.spread {
			v := in.eval(it.val, sc)
			if v.IsUnknown() {
				return v
			}
			if v.Kind() != php.Array {
				return in.failed(n.line, "only arrays can be unpacked")
			}
			src := v.ArrayVal()
			in.grow(n.line, src.Len())
			for i, k := range src.Keys {
				if k.IsInt {
					a.Append(src.Values[i])
				} else {
					a.Set(k, src.Values[i]) // PHP 8.1: string keys overwrite
				}
			}
			continue
		}
		in.grow(n.line, 1)
		if it.key == nil {
			a.Append(in.eval(it.val, sc))
			continue
		}
		kv := in.eval(it.key, sc)
		if kv.IsUnknown() {
			// The key is unknowable, so the whole array is.
			return kv
		}
		k, ok := arrayKey(kv)
		if !ok {
			return in.failed(it.key.pos(), "Illegal offset type "+kv.TypeName())
		}
		a.Set(k, in.eval(it.val, sc))
	}
	return php.ArrayValue(a)
}

// arrayKey converts a value to an array key as PHP does.
func arrayKey(v php.Value) (php.Key, bool) {
	switch v.Kind() {
	case php.Int:
		return php.IntKey(v.IntVal()), true
	case php.String:
		return php.StringKey(v.StringVal()), true
	case php.Bool:
		return php.IntKey(v.ToInt()), true
	case php.Float:
		return php.IntKey(v.ToInt()), true
	case php.Null:
		return php.StringKey(""), true
	}
	return php.Key{}, false
}

func (in *interp) index(line int, base, key php.Value) php.Value {
	if base.IsUnknown() {
		return base
	}
	if key.IsUnknown() {
		return key
	}
	switch base.Kind() {
	case php.Array:
		k, ok := arrayKey(key)
		if !ok {
			return in.failed(line, "Illegal offset type "+key.TypeName())
		}
		v, _ := base.ArrayVal().Get(k)
		return v
	case php.String:
		s := base.StringVal()
		i, ok := key.CoerceInt()
		if !ok {
			return in.failed(line, "Cannot access offset of type "+key.TypeName()+" on string")
		}
		if i < 0 {
			i += int64(len(s))
		}
		if i < 0 || i >= int64(len(s)) {
			return php.StringValue("")
		}
		return php.StringValue(s[i : i+1])
	}
	return php.NullValue()
}

func (in *interp) assign(n *assignNode, sc *scope) php.Value {
	val := in.eval(n.val, sc)
	if n.op != "" {
		old := in.eval(n.target, sc)
		if n.op == "??=" {
			if old.IsUnknown() {
				val = old
			} else if !old.IsNull() {
				return old
			}
		} else {
			val = in.binary(n.line, strings.TrimSuffix(n.op, "="), old, val)
		}
	}
	in.store(n.line, n.target, val, sc)
	return val
}

// store writes v into a variable or a nested array element, copying
// arrays on the way (PHP arrays are values).
func (in *interp) store(line int, target node, v php.Value, sc *scope) {
	switch t := target.(type) {
	case *arrayNode:
		// Destructuring: [$a, 'k' => $b] = $v.
		next := int64(0)
		for _, it := range t.items {
			if it.val == nil {
				next++ // skipped slot
				continue
			}
			var part php.Value
			switch {
			case v.IsUnknown():
				part = v
			case v.Kind() != php.Array:
				part = php.NullValue()
			case it.key != nil:
				kv := in.eval(it.key, sc)
				if kv.IsUnknown() {
					part = kv
				} else if k, ok := arrayKey(kv); ok {
					part, _ = v.ArrayVal().Get(k)
				}
			default:
				part, _ = v.ArrayVal().Get(php.IntKey(next))
				next++
			}
			in.store(line, it.val, part, sc)
		}
	case *varNode:
		sc.vars[t.name] = v
	case *indexNode:
		cur := in.eval(t.x, sc)
		if cur.IsUnknown() {
			return
		}
		var arr *php.OrderedArray
		switch cur.Kind() {
		case php.Array:
			in.cost(line, cur.ArrayVal().Len())
			arr = cur.ArrayVal().Copy()
		case php.Null:
			arr = php.NewArray()
		default:
			in.store(line, t.x, in.failed(line, "cannot use a scalar value as an array"), sc)
			return
		}
		in.grow(line, 1)
		if t.key == nil {
			arr.Append(v)
		} else {
			kv := in.eval(t.key, sc)
			if kv.IsUnknown() {
				in.store(line, t.x, kv, sc)
				return
			}
			k, ok := arrayKey(kv)
			if !ok {
				in.store(line, t.x, in.failed(line, "Illegal offset type"), sc)
				return
			}
			arr.Set(k, v)
		}
		in.store(line, t.x, php.ArrayValue(arr), sc)
	}
}

func (in *interp) cast(n *castNode, v php.Value) php.Value {
	if v.IsUnknown() {
		return v
	}
	switch n.to {
	case "string":
		if v.Kind() == php.Closure {
			return in.failed(n.line, "Object of class Closure could not be converted to string")
		}
		return php.StringValue(v.ToString())
	case "int":
		return php.IntValue(v.ToInt())
	case "float":
		return php.FloatValue(v.ToFloat())
	case "bool":
		return php.BoolValue(v.ToBool())
	case "array":
		if v.Kind() == php.Closure {
			return php.ListValue(v)
		}
		return php.ArrayValue(v.ToArray())
	case "unset":
		return php.NullValue()
	}
	return in.unknown(n.line, "("+n.to+") cast")
}

func (in *interp) evalUnary(n *unaryNode, sc *scope) php.Value {
	v := in.eval(n.x, sc)
	if v.IsUnknown() {
		return v
	}
	switch n.op {
	case "!":
		return php.BoolValue(!v.ToBool())
	case "-":
		return in.binary(n.line, "*", v, php.IntValue(-1))
	case "+":
		return in.binary(n.line, "*", v, php.IntValue(1))
	case "~":
		if v.Kind() == php.Int || v.Kind() == php.Float {
			return php.IntValue(^v.ToInt())
		}
		return in.failed(n.line, "unsupported operand type for ~")
	}
	return in.unknown(n.line, n.op)
}

func (in *interp) evalBinary(n *binaryNode, sc *scope) php.Value {
	switch n.op {
	case "&&", "and":
		l := in.eval(n.l, sc)
		if l.IsUnknown() || !l.ToBool() {
			if l.IsUnknown() {
				return l
			}
			return php.BoolValue(false)
		}
		r := in.eval(n.r, sc)
		if r.IsUnknown() {
			return r
		}
		return php.BoolValue(r.ToBool())
	case "||", "or":
		l := in.eval(n.l, sc)
		if l.IsUnknown() {
			return l
		}
		if l.ToBool() {
			return php.BoolValue(true)
		}
		r := in.eval(n.r, sc)
		if r.IsUnknown() {
			return r
		}
		return php.BoolValue(r.ToBool())
	case "??":
		l := in.evalQuiet(n.l, sc)
		if l.IsUnknown() {
			return l
		}
		if !l.IsNull() {
			return l
		}
		return in.eval(n.r, sc)
	}
	l := in.eval(n.l, sc)
	r := in.eval(n.r, sc)
	return in.binary(n.line, n.op, l, r)
}
