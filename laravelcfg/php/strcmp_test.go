package php

import "testing"

// Expected values checked against PHP 8.2's <=> on two strings.
func TestSmartStrcmp(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"9223372036854775808", "9223372036854775809", -1}, // overflow: equal doubles, told apart as strings
		{"1e3", "1000", 0},
		{"abc", "abd", -1},
		{" 1", "1", 0},
		{"10", "9", 1},
		{"9223372036854775807", "9223372036854775808", -1},
		{"-9223372036854775809", "-9223372036854775810", -1},
		{"1e400", "2e400", -1},
		{"1.0", "1", 0},
		{"0x1A", "26", -1},
		{"", "0", -1},
	}
	for _, tt := range tests {
		if got := SmartStrcmp(tt.a, tt.b); got != tt.want {
			t.Errorf("SmartStrcmp(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
		if got, ok := Compare(StringValue(tt.a), StringValue(tt.b)); !ok || got != tt.want {
			t.Errorf("Compare(%q, %q) = %d, %v, want %d", tt.a, tt.b, got, ok, tt.want)
		}
	}
}

func TestCompareKeys(t *testing.T) {
	tests := []struct {
		a, b Key
		want int
	}{
		{IntKey(2), IntKey(10), -1},
		{IntKey(10), StringKey("9a"), -1}, // "10" < "9a" as strings
		{IntKey(10), StringKey("1e1"), 0},
		{StringKey("b"), IntKey(1), 1},
		{StringKey("a"), StringKey("B"), 1},
	}
	for _, tt := range tests {
		if got := CompareKeys(tt.a, tt.b); got != tt.want {
			t.Errorf("CompareKeys(%v, %v) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

// FuzzSmartStrcmp checks the comparison never panics, is antisymmetric, and
// calls a string equal to itself.
func FuzzSmartStrcmp(f *testing.F) {
	for _, s := range []string{"1", "1e3", "9223372036854775808", "-9223372036854775809", " 1", "abc", "1e400", ".5"} {
		f.Add(s, "1000")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		if ab, ba := SmartStrcmp(a, b), SmartStrcmp(b, a); ab != -ba {
			t.Fatalf("SmartStrcmp(%q, %q) = %d but reversed %d", a, b, ab, ba)
		}
		if SmartStrcmp(a, a) != 0 {
			t.Fatalf("SmartStrcmp(%q, itself) != 0", a)
		}
	})
}
