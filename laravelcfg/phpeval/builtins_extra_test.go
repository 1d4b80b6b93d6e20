package phpeval

import (
	"strings"
	"testing"

	"github.com/reverb-go/reverb/laravelcfg/php"
)

// phpCase is an expression and what PHP 8.2 printed for json_encode of
// it (php -r), or "error" where PHP throws: the evaluator must then give
// a value that cannot be computed.
type phpCase struct{ expr, want string }

func checkPHPCases(t *testing.T, cases []phpCase, env map[string]string) {
	t.Helper()
	for _, c := range cases {
		res, err := Eval([]byte("<?php return "+c.expr+";"), Options{File: "config/x.php", Getenv: mapEnv(env)})
		if err != nil {
			t.Errorf("%s: %v", c.expr, err)
			continue
		}
		if c.want == "error" {
			if !res.Value.IsUnknown() {
				t.Errorf("%s: got a value, PHP throws", c.expr)
			} else if !strings.Contains(res.Value.UnknownReason(), "Error") {
				t.Errorf("%s: %s, want PHP's error", c.expr, res.Value.UnknownReason())
			}
			continue
		}
		got, err := php.EncodeJSON(res.Value, php.JSONOptions{})
		if err != nil {
			t.Errorf("%s: %v", c.expr, err)
			continue
		}
		if string(got) != c.want {
			t.Errorf("%s = %s, PHP gives %s", c.expr, got, c.want)
		}
	}
}

func TestMinMaxRangeCombineSliceAgainstPHP(t *testing.T) {
	checkPHPCases(t, []phpCase{
		{`max(1, 2.5, '3')`, `"3"`},
		{`max('apple', 'banana')`, `"banana"`},
		{`max([1, 2], [1, 3])`, `[1,3]`},
		{`max('10', '9')`, `"10"`},
		{`max('10', '9a')`, `"9a"`},
		{`max(0, 'a')`, `"a"`},
		{`max('a', 0)`, `"a"`},
		{`max(null, false)`, `null`},
		{`max([5])`, `5`},
		{`max(1.0, 1)`, `1`},
		{`max(1, 1.0)`, `1`},
		{`max(true, 2)`, `true`},
		{`min(1, -2, '0')`, `-2`},
		{`min([3, 1, 2])`, `1`},
		{`min('abc', 0)`, `0`},
		{`min(0, 'abc')`, `0`},
		{`min([], 1)`, `1`},
		{`max([], 1)`, `[]`},
		{`min(null, -1)`, `null`},
		{`min(INF, 1)`, `1`},
		{`max([])`, `error`},
		{`max(1)`, `error`},
		{`range(1, 5)`, `[1,2,3,4,5]`},
		{`range(5, 1)`, `[5,4,3,2,1]`},
		{`range(0, 10, 3)`, `[0,3,6,9]`},
		{`range(10, 0, 3)`, `[10,7,4,1]`},
		{`range('1', '4')`, `[1,2,3,4]`},
		{`range('a', 'e')`, `["a","b","c","d","e"]`},
		{`range('e', 'a', 2)`, `["e","c","a"]`},
		{`range('A', 'z', 10)`, `["A","K","U","_","i","s"]`},
		{`range(1, 1)`, `[1]`},
		{`range(-3, 3, 2)`, `[-3,-1,1,3]`},
		{`range(PHP_INT_MAX - 2, PHP_INT_MAX)`, `[9223372036854775805,9223372036854775806,9223372036854775807]`},
		{`array_combine(['a', 'b'], [1, 2])`, `{"a":1,"b":2}`},
		{`array_combine([1, '2', '02', 1.5, true, null, false], [1, 2, 3, 4, 5, 6, 7])`, `{"1":5,"2":2,"02":3,"1.5":4,"":7}`},
		{`array_combine([], [])`, `[]`},
		{`array_combine(['x', 'x'], [1, 2])`, `{"x":2}`},
		{`array_combine(['a'], [1, 2])`, `error`},
		{`array_slice([1, 2, 3, 4], 1)`, `[2,3,4]`},
		{`array_slice([1, 2, 3, 4], 1, 2)`, `[2,3]`},
		{`array_slice([1, 2, 3, 4], -2)`, `[3,4]`},
		{`array_slice([1, 2, 3, 4], -2, 1)`, `[3]`},
		{`array_slice([1, 2, 3, 4], 1, -1)`, `[2,3]`},
		{`array_slice([1, 2, 3, 4], -10, 2)`, `[1,2]`},
		{`array_slice([1, 2, 3, 4], 10)`, `[]`},
		{`array_slice([1, 2, 3, 4], 4)`, `[]`},
		{`array_slice([1, 2, 3, 4], 0, 0)`, `[]`},
		{`array_slice([1, 2, 3, 4], 1, -5)`, `[]`},
		{`array_slice([1, 2, 3, 4], 2, null, true)`, `{"2":3,"3":4}`},
		{`array_slice(['a' => 1, 5 => 2, 'b' => 3, 9 => 4], 1)`, `{"0":2,"b":3,"1":4}`},
		{`array_slice(['a' => 1, 5 => 2, 'b' => 3, 9 => 4], 1, null, true)`, `{"5":2,"b":3,"9":4}`},
		{`array_slice([1, 2, 3], '1')`, `[2,3]`},
		{`array_slice([1, 2, 3], 1, '1')`, `[2]`},
		{`array_slice([1, 2, 3], PHP_INT_MAX)`, `[]`},
		{`array_slice([1, 2, 3], 1, PHP_INT_MAX)`, `[2,3]`},
		{`array_slice([1, 2, 3], PHP_INT_MIN)`, `[1,2,3]`},
		{`array_slice([1, 2, 3], 'x')`, `error`},
		{`sprintf('%+.1f', 2.25)`, `"+2.2"`},
		{`sprintf('%+05.1f', 2.25)`, `"+02.2"`},
		{`sprintf('%+f', 0)`, `"+0.000000"`},
		{`min(INF, 1)`, `1`},
	}, nil)
}

// range() results that PHP 8.3 changed, floats, and huge ranges are not
// computed; a huge range is refused before anything is allocated.
func TestRangeRefusals(t *testing.T) {
	for _, src := range []string{"range(1, 5, -1)", "range(0, 1, 0.25)", "range('a', 5)", "range(1, 2, 5)", "range(1, 5, 0)",
		"range(1, 1e9)", "range(1, 10000000)", "range(PHP_INT_MIN, PHP_INT_MAX)", "range(1.5, 3)"} {
		res, err := Eval([]byte("<?php return "+src+";"), Options{File: "config/x.php"})
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		if !res.Value.IsUnknown() {
			t.Errorf("%s: computed", src)
		}
	}
	res, _ := Eval([]byte("<?php return range(1, 1e9);"), Options{File: "config/x.php"})
	if r := res.Value.UnknownReason(); !strings.Contains(r, "1000000000 elements") {
		t.Errorf("range(1, 1e9): %q", r)
	}
}
