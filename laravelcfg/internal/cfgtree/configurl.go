package cfgtree

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/reverb-go/reverb/laravelcfg/php"
	"github.com/reverb-go/reverb/laravelcfg/phpeval"
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

// ApplyURL is Illuminate\Support\ConfigurationUrlParser::parseConfiguration,
// used by both the database and the Redis managers: a non-empty `url` key is
// parsed and its parts (driver, host, port, username, password, database and
// the query parameters) override the other keys. The URL's string parts go
// through json_decode as Laravel does, so "?ssl=true" is bool true and a
// "null" host disappears.
func ApplyURL(n Node) (Node, error) {
	urlVal, ok := n.Get("url")
	if !ok || Empty(urlVal) {
		return n, nil
	}
	raw, err := String(urlVal, n.KeyPath("url"))
	if err != nil {
		return Node{}, err
	}
	out := php.NewArray()
	for i, k := range n.Arr.Keys {
		if !k.IsInt && k.S == "url" {
			continue
		}
		out.Set(k, n.Arr.Values[i])
	}
	// parseUrl: parse_url after the sqlite:/// rewrite.
	parts, ok := phpeval.ParseURL(sqliteTripleSlash.ReplaceAllString(raw, "$1://null/"))
	if !ok {
		return Node{}, fmt.Errorf("config %s: the database configuration URL is malformed", n.KeyPath("url"))
	}
	// Every component, the port included, goes through rawurldecode and
	// then json_decode.
	decoded := func(k string) (php.Value, bool) {
		v, ok := parts.GetString(k)
		if !ok {
			return php.Value{}, false
		}
		return JSONNative(php.RawURLDecode(v.ToString())), true
	}
	// getPrimaryOptions, in its order, nulls dropped (array_filter).
	if d, ok := decoded("scheme"); ok && d.ToBool() {
		if a, ok := urlDriverAliases[d.ToString()]; ok && d.Kind() == php.String {
			d = php.StringValue(a)
		}
		out.Set(php.StringKey("driver"), d)
	}
	if p, ok := decoded("path"); ok && p.ToBool() && !(p.Kind() == php.String && p.StringVal() == "/") {
		if p.Kind() == php.Array {
			return Node{}, fmt.Errorf("config %s: the URL path decodes to an array (substr() would throw)", n.KeyPath("url"))
		}
		db := p.ToString()
		out.Set(php.StringKey("database"), php.StringValue(db[min(1, len(db)):]))
	}
	for _, c := range []struct{ component, key string }{{"host", "host"}, {"port", "port"}, {"user", "username"}, {"pass", "password"}} {
		if v, ok := decoded(c.component); ok && !v.IsNull() {
			out.Set(php.StringKey(c.key), v)
		}
	}
	// getQueryOptions reads the raw (not rawurldecoded) query.
	if rq, ok := parts.GetString("query"); ok && rq.ToBool() {
		q, err := url.ParseQuery(rq.StringVal())
		if err != nil {
			return Node{}, fmt.Errorf("config %s: bad query string: %v", n.KeyPath("url"), err)
		}
		for _, k := range slices.Sorted(maps.Keys(q)) {
			vs := q[k]
			// parse_str: the last occurrence wins.
			out.Set(php.StringKey(k), JSONNative(vs[len(vs)-1]))
		}
	}
	return Node{Path: n.Path, Arr: out}, nil
}

// JSONNative is parseStringsToNativeTypes for one string: json_decode($s,
// true) when that succeeds, else the string itself.
func JSONNative(s string) php.Value {
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
