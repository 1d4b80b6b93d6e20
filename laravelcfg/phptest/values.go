package phptest

import (
	"fmt"

	"github.com/reverb-go/reverb/laravelcfg/php"
)

// Arr builds a PHP array from alternating keys (string or int) and values
// (nil, bool, int, float64, string or php.Value), for config trees in tests.
func Arr(kv ...any) php.Value {
	a := php.NewArray()
	for i := 0; i+1 < len(kv); i += 2 {
		var k php.Key
		switch key := kv[i].(type) {
		case string:
			k = php.StringKey(key)
		case int:
			k = php.IntKey(int64(key))
		default:
			panic(fmt.Sprintf("phptest.Arr: bad key %T", kv[i]))
		}
		a.Set(k, Val(kv[i+1]))
	}
	return php.ArrayValue(a)
}

// List builds a PHP list.
func List(vs ...any) php.Value {
	a := php.NewArray()
	for _, v := range vs {
		a.Append(Val(v))
	}
	return php.ArrayValue(a)
}

// Val converts a Go value (nil, bool, int, float64, string, php.Value) to a
// php.Value.
func Val(v any) php.Value {
	switch x := v.(type) {
	case nil:
		return php.NullValue()
	case php.Value:
		return x
	case string:
		return php.StringValue(x)
	case int:
		return php.IntValue(int64(x))
	case bool:
		return php.BoolValue(x)
	case float64:
		return php.FloatValue(x)
	}
	panic(fmt.Sprintf("phptest.Val: bad value %T", v))
}

// With returns a copy of a (nested) array with the value at path replaced
// or added (nil sets null); missing or non-array levels become arrays.
func With(v php.Value, path []string, nv any) php.Value {
	out := php.NewArray()
	if v.Kind() == php.Array {
		src := v.ArrayVal()
		for i, k := range src.Keys {
			out.Set(k, src.Values[i])
		}
	}
	k := php.StringKey(path[0])
	if len(path) == 1 {
		out.Set(k, Val(nv))
		return php.ArrayValue(out)
	}
	child, ok := out.Get(k)
	if !ok || child.Kind() != php.Array {
		child = Arr()
	}
	out.Set(k, With(child, path[1:], nv))
	return php.ArrayValue(out)
}
