// Package cfgtree reads values out of the merged Laravel config tree the way
// Laravel's managers do (CacheManager, DatabaseManager, RedisManager and
// their connectors): PHP's plain (string)/(int) casts, `?? []` for missing
// arrays, empty(), and ConfigurationUrlParser for `url` keys. Every error
// names the exact key path ("database.redis.cache.port").
package cfgtree

import (
	"fmt"

	"github.com/reverb-go/reverb/laravelcfg/php"
)

// Node is one array of the merged config tree together with its dotted path,
// so every error can name the exact key ("cache.stores.redis.connection").
type Node struct {
	Path string
	Arr  *php.OrderedArray
}

// Get returns the value at key and whether the key exists.
func (n Node) Get(key string) (php.Value, bool) {
	if n.Arr == nil {
		return php.Value{}, false
	}
	return n.Arr.GetString(key)
}

// KeyPath is the dotted path of key below n.
func (n Node) KeyPath(key string) string {
	if n.Path == "" {
		return key
	}
	return n.Path + "." + key
}

// Sub returns the array at key. A missing key or null is an empty Node
// (Laravel's `?? []`); any other non-array is an error.
func (n Node) Sub(key string) (Node, error) {
	v, ok := n.Get(key)
	p := n.KeyPath(key)
	if !ok || v.IsNull() {
		return Node{Path: p}, nil
	}
	if v.IsUnknown() {
		return Node{}, UnknownErr(p, v)
	}
	if v.Kind() != php.Array {
		return Node{}, fmt.Errorf("config %s: expected an array, got %s", p, v.TypeName())
	}
	return Node{Path: p, Arr: v.ArrayVal()}, nil
}

// Str returns the value at key converted the way PHP's string conversion
// does ((string) $v). ok is false when the key is missing or null, the two
// cases Laravel's `??` treats alike.
func (n Node) Str(key string) (s string, ok bool, err error) {
	v, exists := n.Get(key)
	if !exists || v.IsNull() {
		return "", false, nil
	}
	s, err = String(v, n.KeyPath(key))
	return s, err == nil, err
}

// StrOr is Str with a default for a missing or null key.
func (n Node) StrOr(key, def string) (string, error) {
	s, ok, err := n.Str(key)
	if err != nil {
		return "", err
	}
	if !ok {
		return def, nil
	}
	return s, nil
}

// String is PHP's (string) conversion (php.Value.ToString) for the
// scalar kinds config values can have. Arrays and Unknown values are errors
// naming the key path.
func String(v php.Value, path string) (string, error) {
	switch v.Kind() {
	case php.Unknown:
		return "", UnknownErr(path, v)
	case php.Array, php.Closure:
		return "", fmt.Errorf("config %s: expected a string, got %s", path, v.TypeName())
	}
	return v.ToString(), nil
}

// Empty is PHP's empty(), which is !(bool)$v: null, false, 0, 0.0, "",
// "0" and [] are empty. An Unknown value is not: it may hold anything.
func Empty(v php.Value) bool {
	return !v.IsUnknown() && !v.ToBool()
}

// Int is PHP's (int) cast (php.Value.ToInt) for the values a port or
// database number can hold ("6379", 6379, "1", null).
func Int(v php.Value, path string) (int64, error) {
	switch v.Kind() {
	case php.Unknown:
		return 0, UnknownErr(path, v)
	case php.Array, php.Closure:
		return 0, fmt.Errorf("config %s: expected a number, got %s", path, v.TypeName())
	}
	return v.ToInt(), nil
}

// DialHost drops the brackets parse_url keeps around an IPv6 host
// ("redis://[::1]:6379" gives host "[::1]"), so the Go clients can dial it.
func DialHost(host string) string {
	if len(host) > 2 && host[0] == '[' && host[len(host)-1] == ']' {
		return host[1 : len(host)-1]
	}
	return host
}

// UnknownErr is the error for a value the evaluator could not compute.
func UnknownErr(path string, v php.Value) error {
	where := ""
	if v.Where != "" {
		where = " at " + v.Where
	}
	return fmt.Errorf("config %s cannot be evaluated without PHP (%s%s)", path, v.UnknownReason(), where)
}
