package cachestore

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/reverb-go/reverb/laravelcfg/php"
)

// node is one array of the merged config tree together with its dotted path,
// so every error can name the exact key ("cache.stores.redis.connection").
type node struct {
	path string
	arr  *php.OrderedArray
}

// get returns the value at key and whether the key exists.
func (n node) get(key string) (php.Value, bool) {
	if n.arr == nil {
		return php.Value{}, false
	}
	return n.arr.GetString(key)
}

// keyPath is the dotted path of key below n.
func (n node) keyPath(key string) string {
	if n.path == "" {
		return key
	}
	return n.path + "." + key
}

// sub returns the array at key. A missing key or null is an empty node
// (Laravel's `?? []`); any other non-array is an error.
func (n node) sub(key string) (node, error) {
	v, ok := n.get(key)
	p := n.keyPath(key)
	if !ok || v.IsNull() {
		return node{path: p}, nil
	}
	if v.IsUnknown() {
		return node{}, unknownErr(p, v)
	}
	if v.Kind() != php.Array {
		return node{}, fmt.Errorf("config %s: expected an array, got %s", p, kindName(v))
	}
	return node{path: p, arr: v.ArrayVal()}, nil
}

// str returns the value at key converted the way PHP's string conversion
// does ((string) $v). ok is false when the key is missing or null, the two
// cases Laravel's `??` treats alike.
func (n node) str(key string) (s string, ok bool, err error) {
	v, exists := n.get(key)
	if !exists || v.IsNull() {
		return "", false, nil
	}
	s, err = phpString(v, n.keyPath(key))
	return s, err == nil, err
}

// strOr is str with a default for a missing or null key.
func (n node) strOr(key, def string) (string, error) {
	s, ok, err := n.str(key)
	if err != nil {
		return "", err
	}
	if !ok {
		return def, nil
	}
	return s, nil
}

// phpString is PHP's (string) conversion for the scalar kinds config values
// can have. Arrays and Unknown values are errors naming the key path.
func phpString(v php.Value, path string) (string, error) {
	switch v.Kind() {
	case php.Null:
		return "", nil
	case php.Bool:
		if v.BoolVal() {
			return "1", nil
		}
		return "", nil
	case php.Int:
		return strconv.FormatInt(v.IntVal(), 10), nil
	case php.Float:
		return phpFloatString(v.FloatVal()), nil
	case php.String:
		return v.StringVal(), nil
	case php.Unknown:
		return "", unknownErr(path, v)
	default:
		return "", fmt.Errorf("config %s: expected a string, got an array", path)
	}
}

// phpFloatString renders a float as PHP 8 does in string context (precision
// 14, no exponent for ordinary magnitudes, "-0" kept).
func phpFloatString(f float64) string {
	s := strconv.FormatFloat(f, 'G', 14, 64)
	if strings.Contains(s, "E") {
		// PHP writes 1.0E+25; Go writes 1E+25.
		mant, exp, _ := strings.Cut(s, "E")
		if !strings.Contains(mant, ".") {
			mant += ".0"
		}
		if exp[0] == '+' || exp[0] == '-' {
			exp = exp[:1] + strings.TrimLeft(exp[1:], "0")
		}
		return mant + "E" + exp
	}
	return s
}

// phpEmpty is PHP's empty(): null, false, 0, 0.0, "", "0" and [] are empty.
func phpEmpty(v php.Value) bool {
	switch v.Kind() {
	case php.Null:
		return true
	case php.Bool:
		return !v.BoolVal()
	case php.Int:
		return v.IntVal() == 0
	case php.Float:
		return v.FloatVal() == 0
	case php.String:
		return v.StringVal() == "" || v.StringVal() == "0"
	case php.Array:
		return v.ArrayVal().Len() == 0
	}
	return false
}

// phpInt is PHP's (int) cast for the values a port or database number can
// hold ("6379", 6379, "1", null).
func phpInt(v php.Value, path string) (int64, error) {
	switch v.Kind() {
	case php.Null:
		return 0, nil
	case php.Bool:
		if v.BoolVal() {
			return 1, nil
		}
		return 0, nil
	case php.Int:
		return v.IntVal(), nil
	case php.Float:
		return int64(v.FloatVal()), nil
	case php.String:
		return leadingInt(v.StringVal()), nil
	case php.Unknown:
		return 0, unknownErr(path, v)
	}
	return 0, fmt.Errorf("config %s: expected a number, got an array", path)
}

// leadingInt is (int) "12abc" = 12: optional whitespace, sign and digits.
func leadingInt(s string) int64 {
	s = strings.TrimLeft(s, " \t\n\r\v\f")
	neg := false
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		s = s[1:]
	}
	var n int64
	for i := 0; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		n = n*10 + int64(s[i]-'0')
		if n > 1<<53 {
			break
		}
	}
	if neg {
		return -n
	}
	return n
}

func unknownErr(path string, v php.Value) error {
	where := ""
	if v.Where != "" {
		where = " at " + v.Where
	}
	return fmt.Errorf("config %s cannot be evaluated without PHP (%s%s)", path, v.UnknownReason(), where)
}

func kindName(v php.Value) string {
	switch v.Kind() {
	case php.Null:
		return "null"
	case php.Bool:
		return "bool"
	case php.Int:
		return "int"
	case php.Float:
		return "float"
	case php.String:
		return "string"
	case php.Array:
		return "array"
	}
	return "unknown value"
}

// keyString renders an array key for a dotted config path.
func keyString(k php.Key) string {
	if k.IsInt {
		return strconv.FormatInt(k.I, 10)
	}
	return k.S
}
