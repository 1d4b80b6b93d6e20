package cachestore

import (
	"fmt"

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
		return node{}, fmt.Errorf("config %s: expected an array, got %s", p, v.TypeName())
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

// phpString is PHP's (string) conversion (php.Value.ToString) for the
// scalar kinds config values can have. Arrays and Unknown values are errors
// naming the key path.
func phpString(v php.Value, path string) (string, error) {
	switch v.Kind() {
	case php.Unknown:
		return "", unknownErr(path, v)
	case php.Array, php.Closure:
		return "", fmt.Errorf("config %s: expected a string, got %s", path, v.TypeName())
	}
	return v.ToString(), nil
}

// phpEmpty is PHP's empty(), which is !(bool)$v: null, false, 0, 0.0, "",
// "0" and [] are empty. An Unknown value is not: it may hold anything.
func phpEmpty(v php.Value) bool {
	return !v.IsUnknown() && !v.ToBool()
}

// phpInt is PHP's (int) cast (php.Value.ToInt) for the values a port or
// database number can hold ("6379", 6379, "1", null).
func phpInt(v php.Value, path string) (int64, error) {
	switch v.Kind() {
	case php.Unknown:
		return 0, unknownErr(path, v)
	case php.Array, php.Closure:
		return 0, fmt.Errorf("config %s: expected a number, got %s", path, v.TypeName())
	}
	return v.ToInt(), nil
}

// dialHost drops the brackets parse_url keeps around an IPv6 host
// ("redis://[::1]:6379" gives host "[::1]"), so the Go clients can dial it.
func dialHost(host string) string {
	if len(host) > 2 && host[0] == '[' && host[len(host)-1] == ']' {
		return host[1 : len(host)-1]
	}
	return host
}

func unknownErr(path string, v php.Value) error {
	where := ""
	if v.Where != "" {
		where = " at " + v.Where
	}
	return fmt.Errorf("config %s cannot be evaluated without PHP (%s%s)", path, v.UnknownReason(), where)
}
