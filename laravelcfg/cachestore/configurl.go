package cachestore

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/reverb-go/reverb/laravelcfg/php"
)

// urlDriverAliases is ConfigurationUrlParser::$driverAliases.
var urlDriverAliases = map[string]string{
	"mssql":      "sqlsrv",
	"mysql2":     "mysql",
	"postgres":   "pgsql",
	"postgresql": "pgsql",
	"sqlite3":    "sqlite",
	"redis":      "tcp",
	"rediss":     "tls",
}

var sqliteTripleSlash = regexp.MustCompile(`^(sqlite3?):///`)

// applyConfigURL is Illuminate\Support\ConfigurationUrlParser::parseConfiguration,
// used by both the database and the Redis managers: a non-empty `url` key is
// parsed and its parts (driver, host, port, username, password, database and
// the query parameters) override the other keys. The URL's string parts go
// through json_decode as Laravel does, so "?ssl=true" is bool true and a
// "null" host disappears.
func applyConfigURL(n node) (node, error) {
	urlVal, ok := n.get("url")
	if !ok || phpEmpty(urlVal) {
		return n, nil
	}
	raw, err := phpString(urlVal, n.keyPath("url"))
	if err != nil {
		return node{}, err
	}
	out := php.NewArray()
	for i, k := range n.arr.Keys {
		if !k.IsInt && k.S == "url" {
			continue
		}
		out.Set(k, n.arr.Values[i])
	}
	u, err := url.Parse(sqliteTripleSlash.ReplaceAllString(raw, "$1://null/"))
	if err != nil {
		return node{}, fmt.Errorf("config %s: the configuration URL is malformed: %v", n.keyPath("url"), redactURLError(err))
	}
	set := func(key, decoded string, present bool) {
		if !present {
			return
		}
		if v := jsonNative(decoded); !v.IsNull() {
			out.Set(php.StringKey(key), v)
		}
	}
	if u.Scheme != "" {
		d := u.Scheme
		if a, ok := urlDriverAliases[d]; ok {
			d = a
		}
		set("driver", d, true)
	}
	// The path is json-decoded with its leading '/' (never valid JSON), so
	// the database name always stays a string ("/2" → "2").
	if p := u.Path; p != "" && p != "/" {
		out.Set(php.StringKey("database"), php.StringValue(p[1:]))
	}
	set("host", u.Hostname(), u.Host != "")
	set("port", u.Port(), u.Port() != "")
	if u.User != nil {
		set("username", u.User.Username(), true)
		pw, ok := u.User.Password()
		set("password", pw, ok)
	}
	if u.RawQuery != "" {
		q, err := url.ParseQuery(u.RawQuery)
		if err != nil {
			return node{}, fmt.Errorf("config %s: bad query string: %v", n.keyPath("url"), err)
		}
		for _, k := range slices.Sorted(maps.Keys(q)) {
			vs := q[k]
			// parse_str: the last occurrence wins.
			out.Set(php.StringKey(k), jsonNative(vs[len(vs)-1]))
		}
	}
	return node{path: n.path, arr: out}, nil
}

// redactURLError drops the URL (which may hold a password) from a parse error.
func redactURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// jsonNative is parseStringsToNativeTypes for one string: json_decode($s,
// true) when that succeeds, else the string itself.
func jsonNative(s string) php.Value {
	if !json.Valid([]byte(s)) {
		return php.StringValue(s)
	}
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var x any
	if err := dec.Decode(&x); err != nil {
		return php.StringValue(s)
	}
	return jsonToPHP(x)
}

func jsonToPHP(x any) php.Value {
	switch t := x.(type) {
	case nil:
		return php.NullValue()
	case bool:
		return php.BoolValue(t)
	case string:
		return php.StringValue(t)
	case json.Number:
		if i, err := t.Int64(); err == nil {
			return php.IntValue(i)
		}
		f, err := t.Float64()
		if err != nil || math.IsInf(f, 0) {
			return php.StringValue(t.String())
		}
		return php.FloatValue(f)
	case []any:
		a := php.NewArray()
		for _, e := range t {
			a.Append(jsonToPHP(e))
		}
		return php.ArrayValue(a)
	case map[string]any:
		// Go maps lose the JSON order; sorted keys keep the result stable.
		a := php.NewArray()
		for _, k := range slices.Sorted(maps.Keys(t)) {
			a.Set(php.StringKey(k), jsonToPHP(t[k]))
		}
		return php.ArrayValue(a)
	}
	return php.StringValue(fmt.Sprint(x))
}
