package phpeval

// Array functions, min()/max() and range().

import (
	"fmt"
	"math"
	"math/big"
	"strings"

	"github.com/reverb-go/reverb/laravelcfg/php"
)

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
