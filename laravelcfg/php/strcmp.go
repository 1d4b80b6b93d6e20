package php

import (
	"math"
	"strconv"
	"strings"
)

// CompareKeys is PHP 8's ksort() comparison of two array keys
// (SORT_REGULAR): ints numerically, two strings with SmartStrcmp, an int and
// a string numerically when the string is numeric, else as strings.
func CompareKeys(a, b Key) int {
	switch {
	case a.IsInt && b.IsInt:
		return cmpOrdered(a.I, b.I)
	case !a.IsInt && !b.IsInt:
		return SmartStrcmp(a.S, b.S)
	case a.IsInt:
		return compareIntToString(a.I, b.S)
	default:
		return -compareIntToString(b.I, a.S)
	}
}

// SmartStrcmp is zendi_smart_strcmp, PHP 8's comparison of two strings:
// numerically when both are numeric strings (with PHP's care for integer
// strings that overflow int64: equal as doubles, they are told apart as
// strings), byte order otherwise. It returns -1, 0 or 1.
func SmartStrcmp(a, b string) int {
	k1, l1, d1, o1 := numericKind(a)
	if k1 == Null {
		return strings.Compare(a, b)
	}
	k2, l2, d2, o2 := numericKind(b)
	if k2 == Null {
		return strings.Compare(a, b)
	}
	if o1 != 0 && o1 == o2 && d1-d2 == 0 {
		return strings.Compare(a, b)
	}
	if k1 == Float || k2 == Float {
		switch {
		case k1 != Float:
			if o2 != 0 {
				return -o2
			}
			d1 = float64(l1)
		case k2 != Float:
			if o1 != 0 {
				return o1
			}
			d2 = float64(l2)
		case d1 == d2 && math.IsInf(d1, 0):
			return strings.Compare(a, b)
		}
		return cmpOrdered(d1-d2, 0)
	}
	return cmpOrdered(l1, l2)
}

// compareIntToString is compare_longs_to_string: numerically when s is a
// numeric string, else the int's decimal text against s as strings.
func compareIntToString(l int64, s string) int {
	switch kind, li, d, _ := numericKind(s); kind {
	case Int:
		return cmpOrdered(l, li)
	case Float:
		return cmpOrdered(float64(l), d)
	}
	return strings.Compare(strconv.FormatInt(l, 10), s)
}

// numericKind is is_numeric_string_ex for a whole string: kind Int (value
// l), Float (value d) or Null when s is not numeric. Integer syntax that
// overflows int64 is a Float with oflow ±1, the sign of the overflow.
func numericKind(s string) (kind Kind, l int64, d float64, oflow int) {
	n, ok := NumericString(s)
	switch {
	case !ok:
		return Null, 0, 0, 0
	case n.kind == Int:
		return Int, n.i, 0, 0
	}
	if t := strings.Trim(s, " \t\n\r\v\f"); isIntegerSyntax(t) {
		if t[0] == '-' {
			oflow = -1
		} else {
			oflow = 1
		}
	}
	return Float, 0, n.f, oflow
}

// isIntegerSyntax reports an optional sign followed by decimal digits only.
func isIntegerSyntax(t string) bool {
	if t != "" && (t[0] == '+' || t[0] == '-') {
		t = t[1:]
	}
	if t == "" {
		return false
	}
	for i := 0; i < len(t); i++ {
		if t[i] < '0' || t[i] > '9' {
			return false
		}
	}
	return true
}

func cmpOrdered[T int64 | float64](a, b T) int {
	switch {
	case a > b:
		return 1
	case a < b:
		return -1
	}
	return 0
}
