package phpeval

import (
	"os"
	"testing"
	"time"

	"github.com/reverb-go/reverb/laravelcfg/php"
)

// FuzzEval: any input either fails with an *Error or evaluates; never a
// panic, and never long (limits) — the fuzzer's own timeout catches hangs.
func FuzzEval(f *testing.F) {
	for _, name := range goldenFiles(f) {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b)
		}
	}
	for _, s := range []string{
		"<?php return [1, 'a' => [2]];",
		"<?php $a = fn($x) => $x; return $a(1);",
		"<?php if (1) { return 1; } else { return 2; }",
		"<?php return \"$a {$b['c']} \\u{41}\";",
		"<?php return <<<EOT\n x\n EOT;",
		"<?php return match(1) { 1 => 2, default => 3 };",
		"<?php return array ( 0 => NULL, 'x' => \\A::__set_state(array()), );",
		"<?php return [max(1, '2'), min([3, 1]), range('a', 'e', 2), range(1, 1e9), range(PHP_INT_MIN, PHP_INT_MAX)];",
		"<?php return [array_slice([1, 'a' => 2, 3], -2, 1, true), array_combine(['x', 1.5], [1, 2])];",
		"<?php return json_encode(['a/é' => [1.0, \"\\u{2028}\", []]], JSON_PRETTY_PRINT | JSON_UNESCAPED_UNICODE | JSON_PRESERVE_ZERO_FRACTION, 2);",
		"<?php declare(strict_types=1); return [getenv('A'), getenv(), parse_url(null), array_map('trim', [1])];",
		"<?php define('X', [1]); defined('X') || define('X', 2); return [X[0], constant('X'), Str::title('a b')];",
	} {
		f.Add([]byte(s))
	}
	limits := Limits{MaxSteps: 200_000, MaxDepth: 32, MaxString: 1 << 16, MaxElements: 100_000}
	f.Fuzz(func(t *testing.T, src []byte) {
		start := time.Now()
		res, err := Eval(src, Options{File: "fuzz.php", BasePath: "/b", Limits: limits,
			Getenv:     func(k string) (string, bool) { return "x,y", k == "A" },
			ProcessEnv: func(k string) (string, bool) { return "x,y", k == "A" }})
		if err == nil {
			_, _ = php.EncodeJSON(res.Value, php.JSONOptions{OnUnknown: func(string, php.Value) {}})
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("evaluation took %v", d)
		}
	})
}
