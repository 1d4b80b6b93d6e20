package phpeval

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reverb-go/reverb/laravelcfg/php"
)

// exprGen builds random PHP expressions over the evaluator's operators,
// casts and functions, mixing the types where PHP's juggling rules differ.
type exprGen struct{ r *rand.Rand }

var randomAtoms = []string{
	"0", "1", "-3", "42", "PHP_INT_MAX", "0.5", "-2.25", "1e3", "0.1", "1.0",
	"''", "'0'", "'1'", "'abc'", "'ABC'", "'10'", "'1e1'", "' 1'", "'1 '", "'0.0'", "'5 apples'",
	"'a,b,,c'", "'  x  '", "'null'", "'-0'", "'00'",
	"true", "false", "null", "[]", "[1, 2]", "['a' => 1]", "['1', '2']", "[0 => 'x', 2 => 'y']",
	"'Café Crème'", "'http://u:p@h:80/p?q#f'", "'x@y.z'", "9007199254740993", "-0.0", "1.5e300", "'1e400'",
	"['b' => 2, 'a' => 1]", "[null, false, 0, '0', '']", "'My-App_2'", "\"tab\\t\"", "'%s'",
}

var randomBinary = []string{"+", "-", "*", ".", "==", "===", "!=", "!==", "<", "<=", ">", ">=", "<=>", "&&", "||", "??", "?:", "%",
	"/", "**", "|", "&", "^", "<<", ">>", "and", "or", "xor"}

var randomCalls = []string{
	"strtolower(%s)", "strtoupper(%s)", "trim(%s)", "explode(',', %s)", "implode(',', %s)", "intval(%s)",
	"count(%s)", "in_array(%s, [0, '1', 'abc', null])", "array_values(%s)", "array_unique(%s)",
	"str_replace('a', 'b', %s)", "sprintf('%%s|%%d', %s, %s)", "is_null(%s)", "ucfirst(%s)",
	"str_contains(%s, 'a')", "array_filter(%s)", "array_keys(%s)", "array_merge(%s, [9])",
	"(int) %s", "(string) %s", "(bool) %s", "(float) %s", "(array) %s", "!%s", "- %s",
	"%s ? 'T' : 'F'", "array_map('trim', %s)", "parse_url(%s)", "rtrim(%s, '0')",
	"explode(',', %s, -1)",
	"explode(',', %s, 2)", "in_array(%s, [1, 'a'], true)", "array_merge(['a' => 0], %s)", "strlen(%s)",
	"sprintf('[%%5s|%%-3d|%%05.1f|%%x]', %s, %s, %s, %s)", "str_pad(%s, 4, '*', STR_PAD_BOTH)", "ucwords(%s)",
	"substr(%s, 1, 2)", "implode(%s)", "array_key_exists(%s, ['a' => 1, 1 => 2])", "filter_var(%s, FILTER_VALIDATE_BOOLEAN)",
	"filter_var(%s, FILTER_VALIDATE_BOOLEAN, FILTER_NULL_ON_FAILURE)", "filter_var(%s, FILTER_VALIDATE_INT)",
	"intval(%s, 16)", "floatval(%s)", "boolval(%s)", "is_numeric(%s)", "dirname(%s)", "basename(%s)",
	"[%s, %s]", "(%s)[0] ?? 'none'", "(%s)['a'] ?? 'none'", "empty(%s)",
	"match(%s) { 0 => 'zero', '1', 1 => 'one', default => 'other' }",
	"max(%s, %s)", "min(%s, %s, 0)", "max(%s)", "min(%s)", "array_slice(%s, 1)", "array_slice(%s, -1, 1, true)",
	"array_combine(%s, %s)", "json_encode(%s)", "json_encode(%s, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE)",
	"json_encode(%s, JSON_PRESERVE_ZERO_FRACTION | JSON_FORCE_OBJECT)", "range(1, 3)[%s] ?? 'none'",
}

func (g *exprGen) expr(depth int) string {
	if depth <= 0 || g.r.Intn(3) == 0 {
		return randomAtoms[g.r.Intn(len(randomAtoms))]
	}
	if g.r.Intn(2) == 0 {
		op := randomBinary[g.r.Intn(len(randomBinary))]
		return "(" + g.expr(depth-1) + " " + op + " " + g.expr(depth-1) + ")"
	}
	call := randomCalls[g.r.Intn(len(randomCalls))]
	n := strings.Count(call, "%s") - strings.Count(call, "%%s")
	args := make([]any, n)
	for i := range args {
		args[i] = g.expr(depth - 1)
	}
	return "(" + fmt.Sprintf(call, args...) + ")"
}

// TestRandomExpressionsAgainstPHP evaluates a few hundred random
// expressions with phpeval and with PHP and compares json_encode of each.
// An expression PHP throws on must be Unknown in phpeval, and vice versa.
func TestRandomExpressionsAgainstPHP(t *testing.T) {
	phpBin := phpPath(t)
	seed := int64(20260601)
	if v := os.Getenv("RANDOM_ORACLE_SEED"); v != "" {
		fmt.Sscan(v, &seed)
	}
	g := &exprGen{r: rand.New(rand.NewSource(seed))}
	const n = 600
	exprs := make([]string, n)
	for i := range exprs {
		exprs[i] = g.expr(3)
	}
	// PHP side: one script, each expression wrapped in try/catch.
	var src strings.Builder
	src.WriteString("<?php\nerror_reporting(0);\nrequire 'Illuminate/autoload.php';\n$out = [];\n")
	for _, e := range exprs {
		fmt.Fprintf(&src, "try { $v = %s; $j = json_encode($v); $out[] = $j === false ? '__nojson__' : $j; } catch (\\Throwable $e) { $out[] = '__error__'; }\n", e)
	}
	src.WriteString("echo json_encode($out);\n")
	dir := t.TempDir()
	if d := os.Getenv("RANDOM_ORACLE_DIR"); d != "" {
		dir = d // keep the script for debugging
	}
	script := filepath.Join(dir, "random.php")
	if err := os.WriteFile(script, []byte(src.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd := exec.Command(phpBin, script)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("php: %v\n%s", err, stderr.String())
	}
	var want []string
	if err := json.Unmarshal(out, &want); err != nil || len(want) != n {
		t.Fatalf("php output: %v (%d results)", err, len(want))
	}
	failures := 0
	for i, e := range exprs {
		res, err := Eval([]byte("<?php return "+e+";"), Options{File: "random.php"})
		got := "__error__"
		if err != nil {
			t.Errorf("%s: %v", e, err)
			continue
		}
		// Any Unknown on the way means PHP would have thrown (the random
		// expressions use no unsupported constructs).
		if res.Unknowns == 0 && !containsUnknown(res.Value) {
			b, err := php.EncodeJSON(res.Value, php.JSONOptions{})
			if err != nil {
				got = "__nojson__"
			} else {
				got = string(b)
			}
		}
		if got != want[i] {
			failures++
			if failures <= 25 {
				t.Errorf("%s\n  phpeval: %s\n      php: %s", e, got, want[i])
			}
		}
	}
	if failures > 25 {
		t.Errorf("... %d differences in total", failures)
	}
}

func containsUnknown(v php.Value) bool {
	switch v.Kind() {
	case php.Unknown:
		return true
	case php.Array:
		for _, x := range v.ArrayVal().Values {
			if containsUnknown(x) {
				return true
			}
		}
	}
	return false
}
