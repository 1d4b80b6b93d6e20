package pulse

import (
	"fmt"

	"github.com/reverb-go/reverb/laravelcfg/php"
)

// arr builds a PHP array from alternating string keys and values.
func arr(kv ...any) php.Value {
	a := php.NewArray()
	for i := 0; i+1 < len(kv); i += 2 {
		a.Set(php.StringKey(kv[i].(string)), val(kv[i+1]))
	}
	return php.ArrayValue(a)
}

func val(v any) php.Value {
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
	panic(fmt.Sprintf("val: bad value %T", v))
}

func phpKey(s string) php.Key { return php.StringKey(s) }
