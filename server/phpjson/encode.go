package phpjson

import (
	"strconv"

	"github.com/reverb-go/reverb/laravelcfg/php"
)

// flags selects the escaping of json_encode: default (PHP-JSON) or
// Symfony's JsonResponse flags.
type flags = php.JSONFlags

const (
	plain   flags = 0
	symfony       = php.JSONHexAll
)

// Append appends PHP json_encode($v) (default flags) to dst. Arrays whose
// keys are 0..n-1 in order become JSON lists, others objects; an empty
// array is "[]". Unknown values encode as null. Where json_encode would fail
// the output is what PHP writes with JSON_PARTIAL_OUTPUT_ON_ERROR: INF and
// NAN as 0, invalid UTF-8 as U+FFFD, nesting over 512 levels in full.
func Append(dst []byte, v php.Value) []byte { return appendValue(dst, v, plain) }

// AppendSymfony is Append with Symfony JsonResponse's flags: <, >, &, ' and
// " inside strings become \u003C, \u003E, \u0026, \u0027, \u0022.
func AppendSymfony(dst []byte, v php.Value) []byte { return appendValue(dst, v, symfony) }

// AppendString appends s as a PHP-JSON string literal (with quotes): '/'
// escaped, every non-ASCII code point as lowercase \uXXXX (surrogate pairs
// above U+FFFF). Invalid UTF-8 becomes \ufffd, one for each sequence PHP's
// JSON_INVALID_UTF8_SUBSTITUTE replaces (Reverb's strings are valid UTF-8
// because they came through json_decode). It does not allocate.
func AppendString(dst []byte, s string) []byte { return appendString(dst, s, plain) }

// AppendSymfonyString is AppendString with Symfony JsonResponse's flags.
func AppendSymfonyString(dst []byte, s string) []byte { return appendString(dst, s, symfony) }

// AppendSymfonyKey appends an array key as a JSON object member name with
// Symfony JsonResponse's flags: PHP writes an int key 5 as "5".
func AppendSymfonyKey(dst []byte, k php.Key) []byte { return appendKey(dst, k, symfony) }

func appendKey(dst []byte, k php.Key, f flags) []byte {
	if k.IsInt {
		dst = append(dst, '"')
		dst = strconv.AppendInt(dst, k.I, 10)
		return append(dst, '"')
	}
	return appendString(dst, k.S, f)
}

func appendValue(dst []byte, v php.Value, f flags) []byte {
	switch v.Kind() {
	case php.Bool:
		if v.BoolVal() {
			return append(dst, "true"...)
		}
		return append(dst, "false"...)
	case php.Int:
		return strconv.AppendInt(dst, v.IntVal(), 10)
	case php.Float:
		return AppendFloat(dst, v.FloatVal())
	case php.String:
		return appendString(dst, v.StringVal(), f)
	case php.Array:
		return appendArray(dst, v.ArrayVal(), f)
	}
	return append(dst, "null"...)
}

func appendArray(dst []byte, a *php.OrderedArray, f flags) []byte {
	if a == nil || a.Len() == 0 {
		return append(dst, "[]"...)
	}
	if a.IsList() {
		dst = append(dst, '[')
		for i, v := range a.Values {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendValue(dst, v, f)
		}
		return append(dst, ']')
	}
	dst = append(dst, '{')
	for i, k := range a.Keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendKey(dst, k, f)
		dst = append(dst, ':')
		dst = appendValue(dst, a.Values[i], f)
	}
	return append(dst, '}')
}

func appendString(dst []byte, s string, f flags) []byte {
	return php.AppendJSONString(dst, s, f)
}

// AppendFloat appends f as PHP json_encode writes a float with
// serialize_precision -1 (php.AppendJSONFloat): INF and NAN are written as
// 0, json_encode's partial output.
func AppendFloat(dst []byte, f float64) []byte { return php.AppendJSONFloat(dst, f) }
