package dotenv

import (
	"strings"

	"github.com/reverb-go/reverb/laravelcfg/php"
)

// Convert applies the conversions of Laravel's env() (Illuminate\Support\
// Env::get, the same in Laravel 8 to 13) to a variable's raw string:
// true/(true) and false/(false) become bools, empty/(empty) the empty
// string, null/(null) PHP null (not the default!), all case-insensitively;
// a value wrapped in matching single or double quotes loses them (PHP's
// /\A(['"])(.*)\1\z/, whose '.' does not cross a newline); anything else,
// numbers included, stays a string.
func Convert(raw string) php.Value {
	switch asciiLower(raw) {
	case "true", "(true)":
		return php.BoolValue(true)
	case "false", "(false)":
		return php.BoolValue(false)
	case "empty", "(empty)":
		return php.StringValue("")
	case "null", "(null)":
		return php.NullValue()
	}
	if n := len(raw); n >= 2 && (raw[0] == '"' || raw[0] == '\'') && raw[n-1] == raw[0] {
		inner := raw[1 : n-1]
		if !strings.Contains(inner, "\n") {
			return php.StringValue(inner)
		}
	}
	return php.StringValue(raw)
}

// asciiLower is PHP 8's strtolower: ASCII letters only, locale-independent.
func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}
