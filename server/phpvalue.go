package server

import (
	"strconv"
	"strings"

	"github.com/reverb-go/reverb/laravelcfg/php"
)

// truthy is PHP's boolean conversion.
func truthy(v php.Value) bool {
	switch v.Kind() {
	case php.Bool:
		return v.BoolVal()
	case php.Int:
		return v.IntVal() != 0
	case php.Float:
		return v.FloatVal() != 0
	case php.String:
		s := v.StringVal()
		return s != "" && s != "0"
	case php.Array:
		return v.ArrayVal().Len() > 0
	}
	return false
}

// laravelBlank reports whether Laravel's validator treats a string as
// empty: only PHP trim()'s characters (space, \t, \n, \r, NUL, \v). A
// required rule fails on it; other rules are skipped.
func laravelBlank(s string) bool { return php.Trim(s) == "" }

// phpString is PHP's (string) cast for scalars (floats as PHP 8 writes
// them: "1.0E+20", "-0").
func phpString(v php.Value) string {
	return v.ToString()
}

// looseKey maps a value to a key under which PHP's loose == between the
// (string) casts holds: numeric strings compare as numbers ("1" == "01"
// == "1.0"), others byte for byte.
func looseKey(v php.Value) string {
	s := phpString(v)
	t := strings.TrimLeft(s, " \t\n\r\v\f")
	t = strings.TrimRight(t, " \t\n\r\v\f")
	if t != "" {
		if f, err := strconv.ParseFloat(t, 64); err == nil && !strings.ContainsAny(t, "xXpP_") && !strings.EqualFold(t, "inf") && !strings.EqualFold(t, "infinity") && !strings.EqualFold(t, "nan") {
			if f == 0 {
				f = 0 // -0 == 0
			}
			return "n:" + strconv.FormatFloat(f, 'g', -1, 64)
		}
	}
	return "s:" + s
}

// field reads a string-keyed entry of a PHP array value.
func field(v php.Value, name string) (php.Value, bool) {
	if v.Kind() != php.Array {
		return php.Value{}, false
	}
	return v.ArrayVal().GetString(name)
}

// arrayKeyOf converts a user id into the PHP array key it would become.
func arrayKeyOf(v php.Value) php.Key {
	switch v.Kind() {
	case php.Int:
		return php.IntKey(v.IntVal())
	case php.Float:
		return php.IntKey(v.ToInt()) // wraps out of range, as PHP
	case php.Bool:
		if v.BoolVal() {
			return php.IntKey(1)
		}
		return php.IntKey(0)
	case php.String:
		return php.StringKey(v.StringVal())
	}
	return php.StringKey("")
}
