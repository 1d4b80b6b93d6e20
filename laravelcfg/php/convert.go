package php

import (
	"math"
	"strconv"
	"strings"
)

// This file holds PHP 8's type juggling rules: the conversions that casts,
// loose comparisons and non-strict function parameters apply.

// ListValue builds a PHP list (keys 0..n-1) from vs.
func ListValue(vs ...Value) Value {
	a := NewArray()
	for _, v := range vs {
		a.Append(v)
	}
	return ArrayValue(a)
}

// Copy returns a shallow copy of the array (PHP arrays are values: code that
// modifies an array it received must copy it first).
func (a *OrderedArray) Copy() *OrderedArray {
	b := &OrderedArray{NextIndex: a.NextIndex}
	b.Keys = append([]Key(nil), a.Keys...)
	b.Values = append([]Value(nil), a.Values...)
	b.reindex()
	return b
}

// Delete removes k (unset($a[k])), keeping the order of the others.
func (a *OrderedArray) Delete(k Key) {
	i, ok := a.find(k)
	if !ok {
		return
	}
	a.Keys = append(a.Keys[:i], a.Keys[i+1:]...)
	a.Values = append(a.Values[:i], a.Values[i+1:]...)
	if a.index == nil {
		return
	}
	if len(a.Keys) <= smallArray {
		a.index = nil
		return
	}
	delete(a.index, k)
	for j := i; j < len(a.Keys); j++ {
		a.index[a.Keys[j]] = j
	}
}

// String renders a key as PHP would print it.
func (k Key) String() string {
	if k.IsInt {
		return strconv.FormatInt(k.I, 10)
	}
	return k.S
}

// KeyValue is the key as a PHP value (int or string), as array_keys gives it.
func (k Key) KeyValue() Value {
	if k.IsInt {
		return IntValue(k.I)
	}
	return StringValue(k.S)
}

// TypeName is PHP's get_debug_type() name of the kind.
func (v Value) TypeName() string {
	switch v.kind {
	case Null:
		return "null"
	case Bool:
		return "bool"
	case Int:
		return "int"
	case Float:
		return "float"
	case String:
		return "string"
	case Array:
		return "array"
	case Closure:
		return "Closure"
	}
	return "unknown"
}

// ToBool is (bool)$v.
func (v Value) ToBool() bool {
	switch v.kind {
	case Bool:
		return v.b
	case Int:
		return v.i != 0
	case Float:
		return v.f != 0
	case String:
		return v.s != "" && v.s != "0"
	case Array:
		return v.arr != nil && v.arr.Len() > 0
	case Closure:
		return true
	}
	return false
}

// ToString is (string)$v. Arrays give "Array" as PHP does (with a warning
// there).
func (v Value) ToString() string {
	switch v.kind {
	case Bool:
		if v.b {
			return "1"
		}
		return ""
	case Int:
		return strconv.FormatInt(v.i, 10)
	case Float:
		return FormatFloat(v.f)
	case String:
		return v.s
	case Array:
		return "Array"
	}
	return ""
}

// FormatFloat converts a float to string as PHP 8 does with precision=14:
// up to 14 significant digits, scientific notation ("1.0E+20") when the
// exponent is below -4 or at least 14.
func FormatFloat(f float64) string {
	const prec, exp = 14, "E" // zend_gcvt with PHP's precision ini
	switch {
	case math.IsNaN(f):
		return "NAN"
	case math.IsInf(f, 1):
		return "INF"
	case math.IsInf(f, -1):
		return "-INF"
	}
	if f == 0 {
		if math.Signbit(f) {
			return "-0"
		}
		return "0"
	}
	s := strconv.FormatFloat(f, 'e', prec-1, 64) // d.ddde±XX
	neg := false
	if s[0] == '-' {
		neg = true
		s = s[1:]
	}
	ePos := strings.IndexByte(s, 'e')
	mant, expo := s[:ePos], s[ePos+1:]
	e, _ := strconv.Atoi(expo)
	digits := strings.TrimRight(strings.Replace(mant, ".", "", 1), "0")
	if digits == "" {
		digits = "0"
	}
	var out string
	if e < -4 || e >= prec {
		m := digits[:1] + "."
		if len(digits) > 1 {
			m += digits[1:]
		} else {
			m += "0"
		}
		sign := "+"
		if e < 0 {
			sign = "-"
			e = -e
		}
		out = m + exp + sign + strconv.Itoa(e)
	} else if e < 0 {
		out = "0." + strings.Repeat("0", -e-1) + digits
	} else if len(digits) <= e+1 {
		out = digits + strings.Repeat("0", e+1-len(digits))
	} else {
		out = digits[:e+1] + "." + digits[e+1:]
	}
	if neg {
		out = "-" + out
	}
	return out
}

// numericPrefix parses a PHP numeric string. It returns the number, whether
// it is an int, whether the whole string is numeric (leading and trailing
// whitespace allowed, PHP 8) and whether at least a leading part is.
func numericPrefix(s string) (iv int64, fv float64, isInt, whole, leading bool) {
	const ws = " \t\n\r\v\f"
	t := strings.TrimLeft(s, ws)
	i := 0
	if i < len(t) && (t[i] == '+' || t[i] == '-') {
		i++
	}
	digStart := i
	for i < len(t) && t[i] >= '0' && t[i] <= '9' {
		i++
	}
	intDigits := i - digStart
	isFloat := false
	if i < len(t) && t[i] == '.' {
		j := i + 1
		for j < len(t) && t[j] >= '0' && t[j] <= '9' {
			j++
		}
		if intDigits > 0 || j > i+1 {
			isFloat = true
			i = j
		}
	}
	if intDigits == 0 && !isFloat {
		return 0, 0, false, false, false
	}
	if i < len(t) && (t[i] == 'e' || t[i] == 'E') {
		j := i + 1
		if j < len(t) && (t[j] == '+' || t[j] == '-') {
			j++
		}
		k := j
		for k < len(t) && t[k] >= '0' && t[k] <= '9' {
			k++
		}
		if k > j {
			isFloat = true
			i = k
		}
	}
	num := t[:i]
	whole = strings.TrimRight(t[i:], ws) == ""
	if !isFloat {
		n, err := strconv.ParseInt(num, 10, 64)
		if err == nil {
			f, _ := strconv.ParseFloat(num, 64) // keeps "-0" as -0.0
			return n, f, true, whole, true
		}
	}
	f, _ := strconv.ParseFloat(num, 64)
	return 0, f, false, whole, true
}

// IsNumeric is is_numeric($v).
func (v Value) IsNumeric() bool {
	switch v.kind {
	case Int, Float:
		return true
	case String:
		_, _, _, whole, _ := numericPrefix(v.s)
		return whole
	}
	return false
}

// NumericString reports whether s is a PHP numeric string and returns its
// value as int or float Value.
func NumericString(s string) (Value, bool) {
	iv, fv, isInt, whole, _ := numericPrefix(s)
	if !whole {
		return Value{}, false
	}
	if isInt {
		return IntValue(iv), true
	}
	return FloatValue(fv), true
}

// ToInt is (int)$v / intval($v): leading-numeric strings give their prefix,
// other strings 0; floats truncate (out of range or NaN gives 0 as PHP 8 on
// 64-bit does for the cases config files meet).
func (v Value) ToInt() int64 {
	switch v.kind {
	case Bool:
		if v.b {
			return 1
		}
		return 0
	case Int:
		return v.i
	case Float:
		return floatToInt(v.f)
	case String:
		iv, fv, isInt, _, ok := numericPrefix(v.s)
		if !ok {
			return 0
		}
		if isInt {
			return iv
		}
		// Strings saturate (strtol / zend_dval_to_lval_cap).
		switch {
		case math.IsNaN(fv) || math.IsInf(fv, 0):
			return 0
		case fv >= 9.223372036854775807e18:
			return math.MaxInt64
		case fv <= -9.223372036854775808e18:
			return math.MinInt64
		}
		return int64(fv)
	case Array:
		if v.arr != nil && v.arr.Len() > 0 {
			return 1
		}
	}
	return 0
}

// floatToInt is zend_dval_to_lval on 64-bit PHP 8: NaN and infinities
// give 0, out-of-range values wrap modulo 2^64.
func floatToInt(f float64) int64 {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0
	}
	if f < 9.223372036854775807e18 && f >= -9.223372036854775808e18 {
		return int64(f)
	}
	const twoPow64 = 18446744073709551616.0
	d := math.Mod(f, twoPow64)
	if d < 0 {
		if d == -9.223372036854775808e18 {
			return math.MinInt64
		}
		d += twoPow64
	}
	if d >= 9.223372036854775807e18 {
		d -= twoPow64
	}
	return int64(d)
}

// ToFloat is (float)$v.
func (v Value) ToFloat() float64 {
	switch v.kind {
	case Int:
		return float64(v.i)
	case Float:
		return v.f
	case String:
		_, fv, _, _, _ := numericPrefix(v.s)
		return fv
	}
	return float64(v.ToInt())
}

// ToNumber is the operand conversion arithmetic does: int or float Value.
// ok is false for non-numeric strings and arrays (PHP 8 throws TypeError for
// arrays and warns for non-numeric strings, using the leading number).
func (v Value) ToNumber() (Value, bool) {
	switch v.kind {
	case Int, Float:
		return v, true
	case Null:
		return IntValue(0), true
	case Bool:
		return IntValue(v.ToInt()), true
	case String:
		iv, fv, isInt, whole, _ := numericPrefix(v.s)
		if isInt {
			return IntValue(iv), whole
		}
		return FloatValue(fv), whole
	}
	return IntValue(0), false
}

// CoerceInt is what a non-strict PHP `int` parameter accepts: ints, integral
// floats, bools, and numeric strings ("60", " 60", "6e1"). null is refused
// (TypeError for non-nullable parameters).
func (v Value) CoerceInt() (int64, bool) {
	switch v.kind {
	case Int:
		return v.i, true
	case Bool:
		return v.ToInt(), true
	case Float:
		if v.f == math.Trunc(v.f) && !math.IsInf(v.f, 0) && math.Abs(v.f) < 9.2e18 {
			return int64(v.f), true
		}
	case String:
		iv, fv, isInt, whole, _ := numericPrefix(v.s)
		if !whole {
			return 0, false
		}
		if isInt {
			return iv, true
		}
		if fv == math.Trunc(fv) && math.Abs(fv) < 9.2e18 {
			return int64(fv), true
		}
	}
	return 0, false
}

// CoerceString is what a non-strict PHP `string` parameter accepts: scalars
// (null and arrays are refused).
func (v Value) CoerceString() (string, bool) {
	switch v.kind {
	case Bool, Int, Float, String:
		return v.ToString(), true
	}
	return "", false
}

// ToArray is (array)$v: arrays unchanged, null gives [], scalars [v].
func (v Value) ToArray() *OrderedArray {
	switch v.kind {
	case Array:
		return v.arr
	case Null:
		return NewArray()
	}
	a := NewArray()
	a.Append(v)
	return a
}

// StrictEquals is $a === $b.
func StrictEquals(a, b Value) bool {
	if a.kind != b.kind {
		return false
	}
	switch a.kind {
	case Null:
		return true
	case Bool:
		return a.b == b.b
	case Int:
		return a.i == b.i
	case Float:
		return a.f == b.f
	case String:
		return a.s == b.s
	case Array:
		if a.arr.Len() != b.arr.Len() {
			return false
		}
		for i, k := range a.arr.Keys {
			if b.arr.Keys[i] != k || !StrictEquals(a.arr.Values[i], b.arr.Values[i]) {
				return false
			}
		}
		return true
	}
	return false
}

// LooseEquals is $a == $b with PHP 8 rules.
func LooseEquals(a, b Value) bool {
	c, ok := Compare(a, b)
	return ok && c == 0
}

// Compare is $a <=> $b with PHP 8 rules. ok is false when the values are
// uncomparable (arrays with different keys, NAN); every ordered comparison
// and == are then false, as in PHP.
func Compare(a, b Value) (int, bool) {
	c, ok := compare(a, b)
	if ok && (isNaNOperand(a) || isNaNOperand(b)) && a.kind != Array && b.kind != Array &&
		a.kind != Bool && b.kind != Bool && a.kind != Null && b.kind != Null {
		return 1, false
	}
	return c, ok
}

func isNaNOperand(v Value) bool {
	switch v.kind {
	case Float:
		return math.IsNaN(v.f)
	}
	return false
}

func compare(a, b Value) (int, bool) {
	// Order of rules follows zend_compare.
	switch {
	case a.kind == Array && b.kind == Array:
		return compareArrays(a.arr, b.arr)
	case a.kind == Null && b.kind == Null:
		return 0, true
	case a.kind == Bool || b.kind == Bool || a.kind == Null || b.kind == Null:
		if a.kind == Null && b.kind == String {
			return cmpStr("", b.s), true
		}
		if b.kind == Null && a.kind == String {
			return cmpStr(a.s, ""), true
		}
		return cmpBool(a.ToBool(), b.ToBool()), true
	case a.kind == String && b.kind == String:
		return SmartStrcmp(a.s, b.s), true
	case a.kind == Array:
		return 1, true
	case b.kind == Array:
		return -1, true
	case a.kind == String:
		if n, ok := NumericString(a.s); ok {
			return cmpNum(n, b), true
		}
		return cmpStr(a.s, b.ToString()), true
	case b.kind == String:
		if n, ok := NumericString(b.s); ok {
			return cmpNum(a, n), true
		}
		return cmpStr(a.ToString(), b.s), true
	}
	return cmpNum(a, b), true
}

func compareArrays(a, b *OrderedArray) (int, bool) {
	if a.Len() != b.Len() {
		if a.Len() < b.Len() {
			return -1, true
		}
		return 1, true
	}
	for i, k := range a.Keys {
		bv, ok := b.Get(k)
		if !ok {
			return 1, false
		}
		c, ok := Compare(a.Values[i], bv)
		if !ok || c != 0 {
			return c, ok
		}
	}
	return 0, true
}

func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

func cmpStr(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func cmpNum(a, b Value) int {
	if a.kind == Int && b.kind == Int {
		switch {
		case a.i < b.i:
			return -1
		case a.i > b.i:
			return 1
		}
		return 0
	}
	x, y := a.ToFloat(), b.ToFloat()
	if math.IsNaN(x) || math.IsNaN(y) {
		return 1 // ZEND_UNCOMPARABLE; LooseEquals and ordering check isNaN first
	}
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}
