package phpeval

import (
	"fmt"
	"math"
	"math/big"
	"strings"
	"unicode/utf8"

	"github.com/reverb-go/reverb/laravelcfg/php"
)

func init() {
	for name, fn := range map[string]builtin{
		"max":           minMax(true),
		"min":           minMax(false),
		"range":         fnRange,
		"array_combine": fnArrayCombine,
		"array_slice":   fnArraySlice,
		"getenv":        fnGetenv,
		"json_encode":   fnJSONEncode,
		"define":        fnDefine,
		"defined":       fnDefined,
		"constant":      fnConstant,
	} {
		builtins[name] = fn
	}
}

// minMax is max()/min(): one non-empty array or several values, compared
// with PHP 8's <=> (an uncomparable pair counts as greater, as
// zend_compare's ZEND_UNCOMPARABLE does).
func minMax(isMax bool) builtin {
	name := "min"
	if isMax {
		name = "max"
	}
	return func(in *interp, line int, a []php.Value) php.Value {
		vals := a
		switch {
		case len(a) == 0:
			return in.failed(line, fmt.Sprintf("ArgumentCountError: %s() expects at least 1 argument, 0 given", name))
		case len(a) == 1:
			if a[0].Kind() != php.Array {
				return in.failed(line, fmt.Sprintf("TypeError: %s(): Argument #1 ($value) must be of type array, %s given", name, a[0].TypeName()))
			}
			vals = a[0].ArrayVal().Values
			if len(vals) == 0 {
				return in.failed(line, fmt.Sprintf("ValueError: %s(): Argument #1 ($value) must contain at least one element", name))
			}
		}
		best := vals[0]
		for _, v := range vals {
			if v.IsUnknown() {
				return v
			}
		}
		for _, v := range vals[1:] {
			c, _ := php.Compare(v, best)
			if isMax && c > 0 || !isMax && c < 0 {
				best = v
			}
		}
		return best
	}
}

// maxRange bounds the arrays range() builds, far above what a config file
// needs; larger ranges are refused before any allocation.
const maxRange = 100_000

// fnRange is range($start, $end, $step = 1) for the cases PHP 8.2 to 8.4
// agree on: integer bounds (ints or integer strings) with a positive
// integer step no larger than the span, or single-letter bounds with an
// integer step. Floats and the other cases (whose results changed in PHP
// 8.3) cannot be computed.
func fnRange(in *interp, line int, a []php.Value) php.Value {
	if len(a) < 2 {
		return in.failed(line, fmt.Sprintf("ArgumentCountError: range() expects at least 2 arguments, %d given", len(a)))
	}
	start, end := a[0], a[1]
	step := int64(1)
	if len(a) > 2 {
		if a[2].Kind() != php.Int {
			return in.unknown(line, "range() with a step of type "+a[2].TypeName())
		}
		step = a[2].IntVal()
		if step <= 0 {
			return in.unknown(line, "range() with a step that is not positive")
		}
	}
	bound := func(v php.Value) (int64, bool) {
		switch v.Kind() {
		case php.Int:
			return v.IntVal(), true
		case php.String:
			if n, ok := php.NumericString(v.StringVal()); ok && n.Kind() == php.Int && strings.TrimSpace(v.StringVal()) == v.StringVal() {
				return n.IntVal(), true
			}
		}
		return 0, false
	}
	letter := func(v php.Value) (byte, bool) {
		if v.Kind() != php.String || len(v.StringVal()) != 1 {
			return 0, false
		}
		c := v.StringVal()[0]
		return c, c < '0' || c > '9'
	}
	lo, ok1 := bound(start)
	hi, ok2 := bound(end)
	chars := false
	if !ok1 || !ok2 {
		l, okl := letter(start)
		h, okh := letter(end)
		if !okl || !okh {
			if n, ok := rangeSize(start, end); ok && n > maxRange {
				return in.failed(line, fmt.Sprintf("range() would build %.0f elements, more than the %d this evaluator builds", n, maxRange))
			}
			return in.unknown(line, fmt.Sprintf("range() of %s and %s", start.TypeName(), end.TypeName()))
		}
		lo, hi, chars = int64(l), int64(h), true
	}
	span := new(diff).sub(hi, lo)
	if span.abs() != 0 && uint64(step) > span.abs() {
		return in.unknown(line, "range() with a step larger than the range")
	}
	if q := span.abs() / uint64(step); q >= maxRange {
		return in.failed(line, fmt.Sprintf("range() would build %s elements, more than the %d this evaluator builds",
			new(bigInt).SetUint64(q).Add(new(bigInt).SetUint64(q), bigOne), maxRange))
	}
	count := span.abs()/uint64(step) + 1
	in.grow(line, int(count))
	out := php.NewArraySized(int(count))
	for i := uint64(0); i < count; i++ {
		var x int64
		if span.neg {
			x = lo - int64(i)*step
		} else {
			x = lo + int64(i)*step
		}
		if chars {
			out.Append(php.StringValue(string([]byte{byte(x)})))
		} else {
			out.Append(php.IntValue(x))
		}
	}
	return php.ArrayValue(out)
}

// diff is the difference of two int64 as sign and magnitude (it does not
// overflow for PHP_INT_MIN..PHP_INT_MAX).
type diff struct {
	neg bool
	mag uint64
}

func (b *diff) sub(x, y int64) *diff {
	if x >= y {
		b.mag = uint64(x) - uint64(y)
	} else {
		b.neg, b.mag = true, uint64(y)-uint64(x)
	}
	return b
}

func (b *diff) abs() uint64 { return b.mag }

// rangeSize estimates how many elements range() of two numbers would
// build, for the refusal message.
func rangeSize(a, b php.Value) (float64, bool) {
	x, ok1 := a.ToNumber()
	y, ok2 := b.ToNumber()
	if !ok1 || !ok2 {
		return 0, false
	}
	d := math.Abs(y.ToFloat()-x.ToFloat()) + 1
	return d, !math.IsNaN(d)
}

type bigInt = big.Int

var bigOne = big.NewInt(1)

// fnArrayCombine is array_combine($keys, $values): keys convert as string
// keys do (ints stay ints, other scalars become their string form, which
// a canonical integer string turns back into an int key).
func fnArrayCombine(in *interp, line int, a []php.Value) php.Value {
	keys, bad := arrayArg(in, line, a, 0, "array_combine")
	if keys == nil {
		return bad
	}
	vals, bad := arrayArg(in, line, a, 1, "array_combine")
	if vals == nil {
		return bad
	}
	if keys.Len() != vals.Len() {
		return in.failed(line, "ValueError: array_combine(): Argument #1 ($keys) and argument #2 ($values) must have the same number of elements")
	}
	in.grow(line, keys.Len())
	out := php.NewArray()
	for i, kv := range keys.Values {
		var k php.Key
		switch kv.Kind() {
		case php.Unknown:
			return kv
		case php.Int:
			k = php.IntKey(kv.IntVal())
		case php.Array:
			k = php.StringKey("Array")
		case php.Closure:
			return in.failed(line, "Error: Object of class Closure could not be converted to string")
		default:
			k = php.StringKey(kv.ToString())
		}
		out.Set(k, vals.Values[i])
	}
	return php.ArrayValue(out)
}

// fnArraySlice is array_slice($array, $offset, $length = null,
// $preserve_keys = false): string keys are always kept, integer keys
// renumbered unless preserve_keys.
func fnArraySlice(in *interp, line int, a []php.Value) php.Value {
	src, bad := arrayArg(in, line, a, 0, "array_slice")
	if src == nil {
		return bad
	}
	offset, ok := in.intArg(arg(a, 1))
	if !ok {
		return in.failed(line, "TypeError: array_slice(): Argument #2 ($offset) must be of type int, "+arg(a, 1).TypeName()+" given")
	}
	n := int64(src.Len())
	length := n
	if l := arg(a, 2); !l.IsNull() {
		length, ok = in.intArg(l)
		if !ok {
			return in.failed(line, "TypeError: array_slice(): Argument #3 ($length) must be of type ?int, "+l.TypeName()+" given")
		}
	}
	preserve := arg(a, 3).ToBool()
	out := php.NewArray()
	if offset > n {
		return php.ArrayValue(out)
	}
	if offset < 0 {
		offset = max(n+offset, 0)
	}
	if length < 0 {
		length = n - offset + length
	} else if length > n-offset {
		length = n - offset
	}
	if length <= 0 {
		return php.ArrayValue(out)
	}
	in.grow(line, int(length))
	for i := offset; i < offset+length; i++ {
		k := src.Keys[i]
		if k.IsInt && !preserve {
			out.Append(src.Values[i])
		} else {
			out.Set(k, src.Values[i])
		}
	}
	return php.ArrayValue(out)
}

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

// mbCaseFn is mb_strtoupper / mb_strtolower.
func mbCaseFn(upper bool) builtin {
	name := "mb_strtolower"
	if upper {
		name = "mb_strtoupper"
	}
	return func(in *interp, line int, a []php.Value) php.Value {
		s, ok := in.strArg(a, 0)
		if !ok {
			return in.failed(line, "TypeError: "+name+"(): Argument #1 ($string) must be of type string, "+arg(a, 0).TypeName()+" given")
		}
		v, ok := mbCase(s, upper)
		if !ok {
			return in.unknown(line, name+"() of "+mbCaseRefusal(s))
		}
		return php.StringValue(v)
	}
}

// mbCase is mbstring's full case mapping where it equals the simple,
// one-to-one mapping Go applies. ok is false for text where they differ or
// where PHP versions differ: invalid UTF-8 (PHP writes "?"), characters
// with a special upper-case form (ß → SS, ligatures, ŉ, Greek with
// ypogegrammeni...), İ when lower-casing (i + U+0307), and Σ when
// lower-casing (PHP 8.3 made it ς at the end of a word).
func mbCase(s string, upper bool) (string, bool) {
	if !utf8.ValidString(s) {
		return "", false
	}
	if upper {
		for _, r := range s {
			if upperSpecial(r) {
				return "", false
			}
		}
		return strings.ToUpper(s), true
	}
	if hasLowerSpecial(s) {
		return "", false
	}
	return strings.ToLower(s), true
}

// mbCaseRefusal names why mbCase may refuse s ("" when it is plain).
func mbCaseRefusal(s string) string {
	if !utf8.ValidString(s) {
		return "invalid UTF-8"
	}
	for _, r := range s {
		if upperSpecial(r) || r == 0x130 || r == 0x3A3 {
			return "text with special case mappings (" + string(r) + ")"
		}
	}
	return ""
}

func hasLowerSpecial(s string) bool {
	return strings.ContainsRune(s, 0x130) || strings.ContainsRune(s, 0x3A3)
}

// upperSpecial: the characters SpecialCasing.txt upper-cases to more than
// one character (a superset for the Greek extended block).
func upperSpecial(r rune) bool {
	switch {
	case r == 0xDF, r == 0x149, r == 0x1F0, r == 0x390, r == 0x3B0, r == 0x587:
		return true
	case r >= 0x1E96 && r <= 0x1E9A, r >= 0x1F50 && r <= 0x1F56, r >= 0x1F80 && r <= 0x1FFF, r >= 0xFB00 && r <= 0xFB17:
		return true
	}
	return false
}
