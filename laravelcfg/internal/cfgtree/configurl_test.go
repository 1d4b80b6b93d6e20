package cfgtree

import (
	"encoding/json"
	"os/exec"
	"sort"
	"strings"
	"testing"

	"github.com/reverb-go/reverb/laravelcfg/php"
)

var configURLCases = []string{
	"mysql://u:p@db.internal:3307/shop?charset=utf8&strict=true",
	"mysql2://root@localhost/app",
	"postgres://pg:s%40cret@db:5433/shop?sslmode=require",
	"postgresql://db/x?search_path=a,b",
	"sqlite:///database/db.sqlite",
	"sqlite:////abs/db.sqlite",
	"sqlite3:///x.sqlite",
	"redis://:secret@cache:6380/2",
	"rediss://user:pw@cache.example:6390",
	"redis://cache",
	"tcp://h:1/0",
	"mysql://u:123@h/d",
	"mysql://u:true@h/d",
	"mysql://u:null@h/d",
	"mysql://h/",
	"mysql://h/d?timeout=1.5&ssl=false&x=%22q%22",
	// Shapes only PHP's parse_url and rawurldecode read this way.
	"mysql://u:p%ZZ@h/d",
	"mysql://user%3Aname:p%2Bq+r@h/d%20b",
	"mysql:db",
	"mysql://u@h:0/d",
	"redis://h?0",
	"redis://h/%5B1%5D",
	"pgsql://[::1]:5432/x",
	"mysql://h:abc/d",
	"mysql://",
}

// phpToJSON renders a php.Value as json_encode would (lists as arrays,
// string keys as objects) for comparison after parsing.
func phpToGo(v php.Value) any {
	switch v.Kind() {
	case php.Null:
		return nil
	case php.Bool:
		return v.BoolVal()
	case php.Int:
		return float64(v.IntVal())
	case php.Float:
		return v.FloatVal()
	case php.String:
		return v.StringVal()
	case php.Array:
		a := v.ArrayVal()
		if a.IsList() {
			out := []any{}
			for _, e := range a.Values {
				out = append(out, phpToGo(e))
			}
			return out
		}
		out := map[string]any{}
		for i, k := range a.Keys {
			out[k.String()] = phpToGo(a.Values[i])
		}
		return out
	}
	return "unknown"
}

// TestConfigURLMatchesLaravel compares applyConfigURL with Laravel's
// ConfigurationUrlParser on the same config arrays.
func TestConfigURLMatchesLaravel(t *testing.T) {
	requirePHP(t)
	var args []string
	for _, u := range configURLCases {
		js, _ := json.Marshal(map[string]any{"driver": "mysql", "host": "orig", "port": 1, "url": u, "prefix": ""})
		args = append(args, string(js))
	}
	out, err := exec.Command("php", append([]string{"testdata/urlparser.php"}, args...)...).Output()
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != len(configURLCases) {
		t.Fatalf("php printed %d lines for %d cases", len(lines), len(configURLCases))
	}
	for i, u := range configURLCases {
		var want any
		if err := json.Unmarshal([]byte(lines[i]), &want); err != nil {
			t.Fatal(err)
		}
		in := arr("driver", "mysql", "host", "orig", "port", 1, "url", u, "prefix", "")
		got, err := ApplyURL(Node{Path: "database.connections.x", Arr: in.ArrayVal()})
		if err != nil {
			if !strings.HasPrefix(lines[i], `{"error":`) {
				t.Errorf("%s: %v (PHP: %s)", u, err, lines[i])
			}
			continue
		}
		gotJSON, _ := json.Marshal(phpToGo(php.ArrayValue(got.Arr)))
		wantJSON, _ := json.Marshal(want)
		if string(gotJSON) != string(wantJSON) {
			t.Errorf("%s\n got %s\nwant %s", u, gotJSON, wantJSON)
		}
		// Key order matters to nobody here, but the set of keys must match.
		if keysOf(got.Arr) != keysOfJSON(want) {
			t.Errorf("%s: keys %s, PHP %s", u, keysOf(got.Arr), keysOfJSON(want))
		}
	}
}

func keysOf(a *php.OrderedArray) string {
	var ks []string
	for _, k := range a.Keys {
		ks = append(ks, k.String())
	}
	sort.Strings(ks)
	return strings.Join(ks, ",")
}

func keysOfJSON(v any) string {
	m, _ := v.(map[string]any)
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return strings.Join(ks, ",")
}

func TestConfigURLEmptyIsIgnored(t *testing.T) {
	for _, u := range []any{nil, "", "0", false} {
		in := arr("driver", "mysql", "url", u)
		got, err := ApplyURL(Node{Arr: in.ArrayVal()})
		if err != nil {
			t.Fatal(err)
		}
		if got.Arr != in.ArrayVal() {
			t.Errorf("url %v changed the config", u)
		}
	}
}

func FuzzApplyConfigURL(f *testing.F) {
	for _, u := range configURLCases {
		f.Add(u)
	}
	f.Fuzz(func(t *testing.T, u string) {
		in := arr("driver", "mysql", "url", u)
		_, _ = ApplyURL(Node{Arr: in.ArrayVal()})
	})
}
