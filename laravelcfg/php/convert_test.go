package php

import (
	"math"
	"testing"
)

func TestLooseEquals(t *testing.T) {
	s, i, f, b, n := StringValue, IntValue, FloatValue, BoolValue, NullValue()
	cases := []struct {
		a, b Value
		want bool
	}{
		{i(1), s("1"), true}, {s("abc"), i(0), false}, {n, b(false), true}, {s("1e3"), s("1000"), true},
		{s("abc"), s("ABC"), false}, {i(0), s(""), false}, {n, i(0), true}, {s("0"), b(false), true},
		{s(" 1"), i(1), true}, {s("1 "), i(1), true}, {f(1.0), i(1), true}, {n, s(""), true},
		{s("null"), n, false}, {ListValue(), b(false), true}, {ListValue(i(1)), ListValue(s("1")), true},
		{s("10"), s("1e1"), true}, {s("abc"), b(true), true}, {i(100), s("1e2"), true},
	}
	for _, c := range cases {
		if got := LooseEquals(c.a, c.b); got != c.want {
			t.Errorf("%v == %v: got %v, want %v", c.a, c.b, got, c.want)
		}
	}
}

func TestCompare(t *testing.T) {
	s, i := StringValue, IntValue
	cases := []struct {
		a, b Value
		want int
	}{
		{s("2"), s("10"), -1}, {s("abc"), s("abd"), -1}, {i(2), i(10), -1}, {s("Z"), s("a"), -1},
		{NullValue(), i(-1), -1}, {s("10"), i(9), 1}, {s("a"), i(1), 1},
	}
	for _, c := range cases {
		if got, _ := Compare(c.a, c.b); got != c.want {
			t.Errorf("%v <=> %v = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}

func TestCoercions(t *testing.T) {
	ints := []struct {
		v    Value
		want int64
		ok   bool
	}{
		{StringValue("60"), 60, true}, {StringValue(" 60"), 60, true}, {StringValue("60 "), 60, true},
		{StringValue("6e1"), 60, true}, {StringValue("abc"), 0, false}, {StringValue(""), 0, false},
		{StringValue("1.5"), 0, false}, {FloatValue(2.0), 2, true}, {BoolValue(true), 1, true},
		{NullValue(), 0, false}, {StringValue("10_000"), 0, false}, {IntValue(7), 7, true},
	}
	for _, c := range ints {
		got, ok := c.v.CoerceInt()
		if got != c.want || ok != c.ok {
			t.Errorf("CoerceInt(%v) = %d %v, want %d %v", c.v, got, ok, c.want, c.ok)
		}
	}
	toInt := map[string]int64{"42abc": 42, "abc": 0, " 12 ": 12, "1e3": 1000, "-7.9": -7, "0x1A": 0}
	for in, want := range toInt {
		if got := StringValue(in).ToInt(); got != want {
			t.Errorf("(int) %q = %d, want %d", in, got, want)
		}
	}
	bools := map[string]bool{"": false, "0": false, "0.0": true, "false": true, " ": true}
	for in, want := range bools {
		if got := StringValue(in).ToBool(); got != want {
			t.Errorf("(bool) %q = %v, want %v", in, got, want)
		}
	}
}

func TestFormatFloat(t *testing.T) {
	point1, point2 := 0.1, 0.2 // variables: Go would fold constants exactly
	cases := []struct {
		f          float64
		str, jsonS string
	}{
		{point1 + point2, "0.3", "0.30000000000000004"}, {1e20, "1.0E+20", "1.0e+20"}, {1.5e-7, "1.5E-7", "1.5e-7"},
		{100, "100", "100"}, {math.Copysign(0, -1), "-0", "-0"}, {1e15, "1.0E+15", "1000000000000000"},
		{0.0001, "0.0001", "0.0001"}, {0.00001, "1.0E-5", "1.0e-5"}, {-2.5, "-2.5", "-2.5"},
		{9.223372036854776e18, "9.2233720368548E+18", "9.223372036854776e+18"},
	}
	for _, c := range cases {
		if got := FormatFloat(c.f); got != c.str {
			t.Errorf("(string) %v = %q, want %q", c.f, got, c.str)
		}
		b, err := EncodeJSON(FloatValue(c.f), JSONOptions{})
		if err != nil || string(b) != c.jsonS {
			t.Errorf("json_encode(%v) = %s %v, want %s", c.f, b, err, c.jsonS)
		}
	}
}

func TestEncodeJSON(t *testing.T) {
	obj := NewArray()
	obj.Set(StringKey("a/b"), StringValue("é<>&'\"\\\x01\u2028😀"))
	obj.Set(StringKey("5"), IntValue(5))
	gap := NewArray()
	gap.Set(IntKey(1), IntValue(1))
	cases := []struct {
		v    Value
		want string
	}{
		{ArrayValue(obj), `{"a\/b":"\u00e9<>&'\"\\\u0001\u2028\ud83d\ude00","5":5}`},
		{ListValue(IntValue(1), StringValue("8080")), `[1,"8080"]`},
		{ArrayValue(gap), `{"1":1}`},
		{ArrayValue(nil), `[]`},
		{NullValue(), `null`},
		{BoolValue(false), `false`},
	}
	for _, c := range cases {
		b, err := EncodeJSON(c.v, JSONOptions{})
		if err != nil || string(b) != c.want {
			t.Errorf("got %s %v, want %s", b, err, c.want)
		}
	}
	if _, err := EncodeJSON(StringValue("\xff"), JSONOptions{}); err == nil {
		t.Errorf("invalid UTF-8 accepted")
	}
	if _, err := EncodeJSON(ListValue(UnknownValue("unsupported construct new Foo", "x.php:3")), JSONOptions{}); err == nil {
		t.Errorf("unknown accepted without OnUnknown")
	}
}

func TestStringKey(t *testing.T) {
	cases := map[string]Key{"0": IntKey(0), "12": IntKey(12), "-3": IntKey(-3), "012": {S: "012"}, "+1": {S: "+1"},
		"-0": {S: "-0"}, "9223372036854775808": {S: "9223372036854775808"}, "1.5": {S: "1.5"},
		"9223372036854775807": IntKey(9223372036854775807), "-9223372036854775808": IntKey(-9223372036854775808),
		"-9223372036854775809": {S: "-9223372036854775809"}, "20000000000000000000": {S: "20000000000000000000"},
		"18446744073709551616": {S: "18446744073709551616"}, "-20000000000000000000": {S: "-20000000000000000000"}}
	for in, want := range cases {
		if got := StringKey(in); got != want {
			t.Errorf("StringKey(%q) = %+v, want %+v", in, got, want)
		}
	}
}

func TestLookup(t *testing.T) {
	inner := NewArray()
	inner.Set(StringKey("key"), StringValue("k"))
	apps := ListValue(ArrayValue(inner))
	root := NewArray()
	root.Set(StringKey("apps"), apps)
	v, ok := Lookup(ArrayValue(root), "apps.0.key")
	if !ok || v.StringVal() != "k" {
		t.Errorf("Lookup = %v %v", v, ok)
	}
	if _, ok := Lookup(ArrayValue(root), "apps.1"); ok {
		t.Errorf("missing index found")
	}
	if _, ok := Lookup(ArrayValue(root), "apps.0.key.x"); ok {
		t.Errorf("walked into a string")
	}
}
