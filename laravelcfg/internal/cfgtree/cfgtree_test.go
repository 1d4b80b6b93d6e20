package cfgtree

import (
	"strings"
	"testing"

	"github.com/reverb-go/reverb/laravelcfg/php"
)

// The config readers are thin wrappers over the php package's casts; these
// cases pin the wrapper part: which kinds are errors, and what Unknown does.
func TestConfigCasts(t *testing.T) {
	unknown := php.UnknownValue("call to config()", "config/cache.php:3")
	list := php.ListValue(php.IntValue(1))
	tests := []struct {
		name    string
		v       php.Value
		str     string
		strErr  string
		num     int64
		numErr  string
		isEmpty bool
	}{
		{name: "null", v: php.NullValue(), isEmpty: true},
		{name: "true", v: php.BoolValue(true), str: "1", num: 1},
		{name: "float", v: php.FloatValue(1.5), str: "1.5", num: 1},
		{name: "zero string", v: php.StringValue("0"), str: "0", isEmpty: true},
		{name: "port string", v: php.StringValue(" 6379"), str: " 6379", num: 6379},
		{name: "exponent", v: php.StringValue("1e3"), str: "1e3", num: 1000},
		{name: "leading digits", v: php.StringValue("12abc"), str: "12abc", num: 12},
		{name: "array", v: list, strErr: "expected a string, got array", numErr: "expected a number, got array"},
		{name: "empty array", v: php.ArrayValue(php.NewArray()), strErr: "got array", numErr: "got array", isEmpty: true},
		{name: "unknown", v: unknown, strErr: "config k cannot be evaluated without PHP (call to config() at config/cache.php:3)", numErr: "cannot be evaluated without PHP"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := String(tt.v, "k")
			if !errMatches(err, tt.strErr) || (err == nil && s != tt.str) {
				t.Errorf("phpString = %q, %v; want %q, %q", s, err, tt.str, tt.strErr)
			}
			n, err := Int(tt.v, "k")
			if !errMatches(err, tt.numErr) || (err == nil && n != tt.num) {
				t.Errorf("phpInt = %d, %v; want %d, %q", n, err, tt.num, tt.numErr)
			}
			if got := Empty(tt.v); got != tt.isEmpty {
				t.Errorf("phpEmpty = %v, want %v", got, tt.isEmpty)
			}
		})
	}
}

func errMatches(err error, want string) bool {
	if want == "" {
		return err == nil
	}
	return err != nil && strings.Contains(err.Error(), want)
}

func TestDialHost(t *testing.T) {
	tests := map[string]string{"[::1]": "::1", "::1": "::1", "h": "h", "[]": "[]", "": ""}
	for in, want := range tests {
		if got := DialHost(in); got != want {
			t.Errorf("DialHost(%q) = %q, want %q", in, got, want)
		}
	}
	// parse_url keeps the brackets in config, as PHP has them.
	n, err := ApplyURL(Node{Path: "database.redis.cache", Arr: arr("url", "redis://[::1]:6390/2").ArrayVal()})
	if err != nil {
		t.Fatal(err)
	}
	if h, _, _ := n.Str("host"); h != "[::1]" {
		t.Errorf("config host = %q, want [::1] as PHP has it", h)
	}
}
