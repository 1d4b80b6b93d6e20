package phpeval

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/reverb-go/reverb/laravelcfg/php"
)

func evalJSON(t *testing.T, src string, env map[string]string) (string, Result) {
	t.Helper()
	res, err := Eval([]byte(src), Options{File: "config/test.php", BasePath: "/app", Getenv: mapEnv(env)})
	if err != nil {
		t.Fatalf("Eval(%q): %v", src, err)
	}
	b, err := php.EncodeJSON(res.Value, php.JSONOptions{OnUnknown: func(string, php.Value) {}})
	if err != nil {
		t.Fatalf("encode: %v", err)
	}
	return string(b), res
}

func TestEvalValues(t *testing.T) {
	cases := []struct {
		name, src string
		env       map[string]string
		want      string
	}{
		{"env absent keeps default type", `<?php return [env('P', 8080), env('Q', '8080'), env('R')];`, nil, `[8080,"8080",null]`},
		{"env present is a string", `<?php return env('P', 8080);`, map[string]string{"P": "8080"}, `"8080"`},
		{"env conversions", `<?php return [env('A'), env('B'), env('C'), env('D'), env('E'), env('F', 'def')];`,
			map[string]string{"A": "(true)", "B": "FALSE", "C": "empty", "D": "null", "E": `"quoted"`, "F": ""}, `[true,false,"",null,"quoted",""]`},
		{"env closure default", `<?php return env('X', fn () => 'lazy');`, nil, `"lazy"`},
		{"storage path", `<?php return [storage_path('framework/cache/data'), database_path('database.sqlite'), base_path()];`, nil,
			`["\/app\/storage\/framework\/cache\/data","\/app\/database\/database.sqlite","\/app"]`},
		{"LARAVEL_STORAGE_PATH", `<?php return storage_path('logs');`, map[string]string{"LARAVEL_STORAGE_PATH": "/var/st"}, `"\/var\/st\/logs"`},
		{"var_export config cache", "<?php return array (\n  'app' => \n  array (\n    'name' => 'It\\'s',\n    'debug' => true,\n    'n' => NULL,\n    0 => -1.5,\n  ),\n);\n", nil,
			`{"app":{"name":"It's","debug":true,"n":null,"0":-1.5}}`},
		{"var_export objects are unknown", "<?php return array ('o' => \\Foo::__set_state(array('a' => 1)), 'k' => 1);", nil, `{"o":null,"k":1}`},
		{"closing tag", "<?php return [1];\n?>\ntrailing html", nil, `[1]`},
		{"no return", `<?php $a = 1;`, nil, `1`},
		{"if on unknown condition poisons", `<?php $a = 1; if (foo()) { $a = 2; } return ['a' => $a, 'b' => 3];`, nil, `{"a":null,"b":3}`},
		{"skipped loop poisons what it writes", `<?php $a = [1]; $b = 2; foreach ($a as $x) { $a[] = $x; } return [$a, $b];`, nil, `[null,2]`},
		{"skipped loop with return", `<?php foreach ([1] as $x) { return [$x]; } return [2];`, nil, `null`},
		{"skipped switch writes", "<?php $m = 'x'; $k = 1; switch (env('A')) { case 'a': $m .= 'y'; break; } return [$m, $k];", nil, `[null,1]`},
		{"function declaration is not run", `<?php function f() { $z = 1; return 2; } $z = 3; return [$z, f()];`, nil, `[3,null]`},
		{"unknown only where used", `<?php $x = new Foo(); return ['ok' => 1, 'bad' => $x->y];`, nil, `{"ok":1,"bad":null}`},
		{"destructuring", `<?php [$h, $p] = explode(':', 'redis:6380'); list('a' => $x) = ['a' => 1]; [, $second] = [1, 2]; return [$h, $p, $x, $second];`, nil, `["redis","6380",1,2]`},
		{"anonymous class is unknown", `<?php $o = new class(1) extends Foo { public function x() { return 1; } }; return ['o' => $o, 'k' => 1];`, nil, `{"o":null,"k":1}`},
		{"alternative if syntax", "<?PHP if (env('A') === 'x'): $v = 1; elseif (env('A') === 'y'): $v = 2; else: $v = 3; endif; return $v;", map[string]string{"A": "y"}, `2`},
		{"string offsets", `<?php $s = 'abc'; return [$s[0], $s[-1], $s[5]];`, nil, `["a","c",""]`},
		{"interpolated array", `<?php $a = ['k' => 'v']; return ["x $a[k] {$a['k']}"];`, nil, `["x v v"]`},
		{"case-insensitive names", `<?php return [STRTOLOWER('A'), \trim(' b '), NULL, True];`, nil, `["a","b",null,true]`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, _ := evalJSON(t, c.src, c.env)
			if got != c.want {
				t.Errorf("got %s, want %s", got, c.want)
			}
		})
	}
}

func TestUnknownCarriesLocation(t *testing.T) {
	cases := []struct {
		src, key, want string
	}{
		{"<?php\n\nreturn ['a' => new Foo()];", "a", "config/test.php:3 unsupported construct new Foo"},
		{"<?php\nreturn [\n'a' => some_function(1),\n];", "a", "config/test.php:3 unsupported construct call to some_function()"},
		{"<?php return ['a' => `ls`];", "a", "config/test.php:1 unsupported construct backtick shell execution"},
		{"<?php return ['a' => include 'x.php'];", "a", "config/test.php:1 unsupported construct include"},
		{"<?php return ['a' => eval('return 1;')];", "a", "config/test.php:1 unsupported construct call to eval()"},
		{"<?php return ['a' => $app->make('x')];", "a", "config/test.php:1 unsupported construct method call ->make()"},
		{"<?php return ['a' => UNDEFINED_CONST];", "a", "config/test.php:1 unsupported construct constant UNDEFINED_CONST"},
		{"<?php return ['a' => explode('', 'x')];", "a", "config/test.php:1 ValueError: explode(): Argument #1 ($separator) cannot be empty"},
		{"<?php return ['a' => trim(foo())];", "a", "config/test.php:1 unsupported construct call to foo()"},
		{"<?php return ['a' => preg_replace('/x/', 'y', 'x')];", "a", "config/test.php:1 unsupported construct call to preg_replace()"},
		{"<?php use Laravel\\Pulse\\Pulse;\nreturn ['a' => [...Pulse::defaultVendorCacheKeys(), 'x'], 'b' => 1];", "a",
			"config/test.php:2 unsupported construct static call Laravel\\Pulse\\Pulse::defaultVendorCacheKeys()"},
		{"<?php return ['a' => (object) ['x' => 1]];", "a", "config/test.php:1 unsupported construct (object) cast"},
		// Superglobals are filled by PHP and by the dotenv loader; they are
		// not the undefined locals of the file.
		{"<?php\nreturn ['a' => isset($_ENV['X']) ? 'set' : 'unset'];", "a", "config/test.php:2 unsupported construct $_ENV"},
		{"<?php return ['a' => $_SERVER['APP_URL'] ?? 'http://localhost'];", "a", "config/test.php:1 unsupported construct $_SERVER"},
		{"<?php $h = $_ENV['REDIS_HOST'] ?? '127.0.0.1'; return ['a' => $h];", "a", "config/test.php:1 unsupported construct $_ENV"},
		{"<?php return ['a' => empty($GLOBALS['x'])];", "a", "config/test.php:1 unsupported construct $GLOBALS"},
		{"<?php return ['a' => \"redis://{$_ENV['REDIS_HOST']}:6379\"];", "a", "config/test.php:1 unsupported construct $_ENV"},
		{"<?php return ['a' => \"$_SERVER[APP_URL]/x\"];", "a", "config/test.php:1 unsupported construct $_SERVER"},
	}
	for _, c := range cases {
		_, res := evalJSON(t, c.src, nil)
		v, _ := php.Lookup(res.Value, c.key)
		if !v.IsUnknown() {
			t.Errorf("%q: %s is %s, want unknown", c.src, c.key, v.TypeName())
			continue
		}
		if got := v.Where + " " + v.UnknownReason(); got != c.want {
			t.Errorf("%q:\n got %s\nwant %s", c.src, got, c.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	cases := []struct{ src, want string }{
		{"<?php\nreturn [\n'a' => 1\n'b' => 2];", "config/test.php:4: PHP parse error"},
		{"<?php return 'unterminated;", "config/test.php:1: PHP parse error: unterminated string"},
		{"no open tag", "config/test.php:1: PHP parse error: no <?php open tag"},
		{"<?php\n\nreturn [1, 2", "config/test.php:3: PHP parse error"},
		{"<?php return 10__0;", "invalid numeric literal"},
		{"<?php /* open comment", "unterminated comment"},
		{"<?php return " + strings.Repeat("(", 1000) + "1" + strings.Repeat(")", 1000) + ";", "nesting too deep"},
	}
	for _, c := range cases {
		_, err := Eval([]byte(c.src), Options{File: "config/test.php"})
		var pe *Error
		if !errors.As(err, &pe) {
			t.Errorf("%q: err = %v, want *Error", c.src, err)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: err = %q, want it to contain %q", c.src, err, c.want)
		}
	}
}

func TestLimits(t *testing.T) {
	cases := []struct{ name, src string }{
		{"string doubling", "<?php $s = 'xxxxxxxxxxxxxxxx';" + strings.Repeat("$s = $s . $s;", 40) + "return $s;"},
		{"array doubling", "<?php $a = [1];" + strings.Repeat("$a = [...$a, ...$a];", 40) + "return $a;"},
		{"quadratic appends", "<?php $a = [];" + strings.Repeat("$a[] = 1;", 20000) + "return $a;"},
		{"closure recursion", "<?php $f = fn ($f) => $f($f); return $f($f);"},
		{"json_encode of nested arrays in a loop", "<?php $b = [range(1, 90000)]; return array_map(fn ($x) => json_encode($b) === '', range(1, 5000));"},
		{"str_replace blowup", "<?php $s = 'a';" + strings.Repeat("$s = str_replace('a', 'aaaaaaaa', $s);", 20) + "return $s;"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			_, err := Eval([]byte(c.src), Options{File: "x.php"})
			if err == nil {
				t.Fatalf("no error")
			}
			if d := time.Since(start); d > 30*time.Second { // generous: CI machines are shared
				t.Errorf("took %v", d)
			}
		})
	}
}

func TestEnvValue(t *testing.T) {
	cases := []struct {
		raw  string
		want php.Value
	}{
		{"true", php.BoolValue(true)}, {"(TRUE)", php.BoolValue(true)}, {"false", php.BoolValue(false)},
		{"(false)", php.BoolValue(false)}, {"Empty", php.StringValue("")}, {"(null)", php.NullValue()},
		{"'x'", php.StringValue("x")}, {`"x"`, php.StringValue("x")}, {`'x"`, php.StringValue(`'x"`)},
		{"\"a\nb\"", php.StringValue("\"a\nb\"")}, {"8080", php.StringValue("8080")}, {"", php.StringValue("")},
		{`"`, php.StringValue(`"`)},
	}
	for _, c := range cases {
		if got := EnvValue(c.raw); !php.StrictEquals(got, c.want) {
			t.Errorf("EnvValue(%q) = %v, want %v", c.raw, got, c.want)
		}
	}
}

func TestSlug(t *testing.T) {
	cases := []struct{ in, sep, want string }{
		{"Laravel", "_", "laravel"}, {"My App", "_", "my_app"}, {"My App", "-", "my-app"},
		{"My-App_2", "_", "my_app_2"}, {"My-App_2", "-", "my-app-2"}, {"Café Crème", "_", "cafe_creme"},
		{"ACME@Corp", "_", "acme_at_corp"}, {"Ünïcödé Straße", "_", "unicode_strasse"}, {"日本語", "_", ""},
		{"", "-", ""}, {"1", "_", "1"}, {"Ǆemal", "-", "emal"}, {"€uro", "_", "eururo"}, {"Łódź Café", "_", "lodz_cafe"}, {"  a  b  ", "-", "a-b"}, {"Æsir Øl", "-", "aesir-ol"},
		// Control characters are removed before the separators are made
		// (a vertical tab or form feed from a .env "\v" / "\f" escape
		// does not split the word); the Ogham, zero-width, line and
		// paragraph separators become spaces.
		{"x\vy\fz", "_", "xyz"}, {"a\tb\nc\rd", "-", "a-b-c-d"}, {"a\x00b\x1fc\x7fd", "_", "abcd"},
		{"a\u1680b\u200bc\u2028d\u2029e", "_", "a_b_c_d_e"}, {"a\ufeffb\u200dc", "_", "abc"},
	}
	for _, c := range cases {
		if got := Slug(c.in, c.sep); got != c.want {
			t.Errorf("Slug(%q, %q) = %q, want %q", c.in, c.sep, got, c.want)
		}
	}
	// Str::ascii, as voku/portable-ascii gives it.
	for in, want := range map[string]string{
		"a\tb\nc\rd": "a b c d", "a\x01b\x0bc\x0cd\x1fe\x7ff": "abcdef", "a\x10b\x13c": "a\x10b\x13c",
		"a\u200bb\u2028c": "a b c", "a\u00a0b": "a b",
		// A Windows line break is one space, as voku replaces "\r\n" first.
		"a\r\nb": "a b", "x\r\n\r\ny": "x  y", "a\n\rb": "a  b",
	} {
		if got := ASCII(in); got != want {
			t.Errorf("ASCII(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseURL(t *testing.T) {
	cases := []struct{ in, want string }{
		{"redis://u:p@h:6379/1", `{"scheme":"redis","host":"h","port":6379,"user":"u","pass":"p","path":"\/1"}`},
		{"localhost:8080", `{"host":"localhost","port":8080}`},
		{"http:///x", `false`},
		{"https://example.com", `{"scheme":"https","host":"example.com"}`},
		{"mailto:a@b.c", `{"scheme":"mailto","path":"a@b.c"}`},
	}
	for _, c := range cases {
		got, _ := evalJSON(t, "<?php return parse_url('"+c.in+"');", nil)
		if got != c.want {
			t.Errorf("parse_url(%q) = %s, want %s", c.in, got, c.want)
		}
	}
}

// TestBuiltinCoverage pins the functions config files use (spec §2.6)
// so a refactor cannot silently drop one.
func TestBuiltinCoverage(t *testing.T) {
	have := map[string]bool{}
	for _, n := range sortedBuiltinNames() {
		have[n] = true
	}
	for _, n := range strings.Fields(`env explode implode join trim rtrim ltrim strtolower strtoupper
		str_replace str_contains str_starts_with ucfirst array_map array_filter array_values array_keys
		array_unique array_merge in_array count is_null intval parse_url sprintf base_path storage_path
		database_path config_path app_path public_path resource_path extension_loaded gethostname`) {
		if !have[n] {
			t.Errorf("builtin %s missing", n)
		}
	}
}

func TestLossy(t *testing.T) {
	for s, want := range map[string]bool{"Laravel": false, "Café Crème": false, "Київ": true, "東京": true, "Straße": false, "50%": false} {
		if got := Lossy(s); got != want {
			t.Errorf("Lossy(%q) = %v, want %v", s, got, want)
		}
	}
}
