// Package php models the values PHP config files produce: null, bool, int,
// float, string and ordered arrays with int or string keys, plus Unknown for
// constructs the evaluator refuses to execute. Types are kept as PHP keeps
// them: a value read from .env is a string ("8080"), a literal default keeps
// its own type (8080).
//
// It also holds PHP's own rules over those values, shared by every package
// that must agree with PHP byte for byte: casts and loose comparison
// (convert.go, strcmp.go), array-key normalisation, json_encode's writers
// (json.go, jsonenc.go) and urldecode (urldecode.go).
package php

// Kind is the PHP type of a Value.
type Kind uint8

// The kinds PHP's get_debug_type() distinguishes, plus Unknown.
const (
	Null Kind = iota
	Bool
	Int
	Float
	String
	Array
	// Unknown is a value the evaluator could not compute (an unsupported
	// construct). It is an error only when the program needs it.
	Unknown
	// Closure is a callable the evaluator built (fn/function expressions);
	// it only lives while a file is evaluated.
	Closure
)

// Value is an immutable PHP value. The zero Value is PHP null.
type Value struct {
	kind Kind
	b    bool
	i    int64
	f    float64
	s    string // String payload, or the reason for Unknown
	arr  *OrderedArray
	fn   any // Closure payload, owned by the evaluator
	// Where records file:line of the expression that produced an Unknown
	// value, so the error can name it.
	Where string
}

// OrderedArray is a PHP array: insertion-ordered keys, each an int or a
// string. Keys follow PHP's rules: canonical decimal strings become ints.
//
// Keys and Values are read directly; changes go through Set and Delete,
// which keep index: nil while the array is small (a lookup scans Keys, as
// fast as a map there and without its allocations: the protocol decodes
// every client message into small arrays), built once it grows past
// smallArray keys.
type OrderedArray struct {
	Keys   []Key
	Values []Value
	index  map[Key]int
	// NextIndex is the next integer key "$a[] = v" would use.
	NextIndex int64
}

// Key is an array key: IsInt selects I, otherwise S.
type Key struct {
	IsInt bool
	I     int64
	S     string
}

// NullValue is PHP null (the zero Value).
func NullValue() Value { return Value{} }

// BoolValue is a PHP bool.
func BoolValue(b bool) Value { return Value{kind: Bool, b: b} }

// IntValue is a PHP int.
func IntValue(i int64) Value { return Value{kind: Int, i: i} }

// FloatValue is a PHP float.
func FloatValue(f float64) Value { return Value{kind: Float, f: f} }

// StringValue is a PHP string (bytes, not necessarily UTF-8).
func StringValue(s string) Value { return Value{kind: String, s: s} }

// ArrayValue wraps an array; nil gives an empty array, never a nil one.
func ArrayValue(a *OrderedArray) Value {
	if a == nil {
		a = NewArray()
	}
	return Value{kind: Array, arr: a}
}

// UnknownValue marks a value that could not be computed; reason names the
// construct and where says file:line.
func UnknownValue(reason, where string) Value {
	return Value{kind: Unknown, s: reason, Where: where}
}

// ClosureValue wraps an evaluator-defined callable.
func ClosureValue(fn any) Value { return Value{kind: Closure, fn: fn} }

// ClosurePayload returns what ClosureValue wrapped.
func (v Value) ClosurePayload() any { return v.fn }

// Kind is the PHP type of v.
func (v Value) Kind() Kind { return v.kind }

// IsNull reports whether v is PHP null.
func (v Value) IsNull() bool { return v.kind == Null }

// IsUnknown reports whether v is a value the evaluator could not compute.
func (v Value) IsUnknown() bool { return v.kind == Unknown }

// The payload getters below never panic: on a Value of another kind they
// return the zero value (StringVal of an Unknown is its reason).

// BoolVal is the payload of a Bool.
func (v Value) BoolVal() bool { return v.b }

// IntVal is the payload of an Int.
func (v Value) IntVal() int64 { return v.i }

// FloatVal is the payload of a Float.
func (v Value) FloatVal() float64 { return v.f }

// StringVal is the payload of a String.
func (v Value) StringVal() string { return v.s }

// ArrayVal is the payload of an Array (nil for other kinds).
func (v Value) ArrayVal() *OrderedArray { return v.arr }

// UnknownReason is the construct and location behind an Unknown value.
func (v Value) UnknownReason() string { return v.s }

// NewArray returns an empty PHP array.
func NewArray() *OrderedArray { return &OrderedArray{} }

// NewArraySized returns an empty PHP array with room for n entries. An
// array of one or two entries (most of a protocol message's arrays) comes
// with its room in the same allocation; it grows like any other past it.
func NewArraySized(n int) *OrderedArray {
	switch {
	case n <= 0:
		return &OrderedArray{}
	case n == 1:
		// Its own size, not two's: a message's data is most often one
		// entry, and the second entry's room would be 112 bytes unused.
		b := new(struct {
			a OrderedArray
			k [1]Key
			v [1]Value
		})
		b.a.Keys, b.a.Values = b.k[:0], b.v[:0]
		return &b.a
	case n == 2:
		b := new(struct {
			a OrderedArray
			k [2]Key
			v [2]Value
		})
		b.a.Keys, b.a.Values = b.k[:0], b.v[:0]
		return &b.a
	}
	return &OrderedArray{Keys: make([]Key, 0, n), Values: make([]Value, 0, n)}
}

// smallArray is the size up to which an array has no index map.
const smallArray = 8

// find returns the position of k.
func (a *OrderedArray) find(k Key) (int, bool) {
	if a.index != nil {
		i, ok := a.index[k]
		return i, ok
	}
	for i, have := range a.Keys {
		if have == k {
			return i, true
		}
	}
	return 0, false
}

// reindex builds index for a large array, or drops it for a small one.
func (a *OrderedArray) reindex() {
	if len(a.Keys) <= smallArray {
		a.index = nil
		return
	}
	a.index = make(map[Key]int, len(a.Keys))
	for i, k := range a.Keys {
		a.index[k] = i
	}
}

// Len is count($a).
func (a *OrderedArray) Len() int { return len(a.Keys) }

// Get returns the value at k and whether it exists.
func (a *OrderedArray) Get(k Key) (Value, bool) {
	if a == nil {
		return Value{}, false
	}
	i, ok := a.find(k)
	if !ok {
		return Value{}, false
	}
	return a.Values[i], true
}

// GetString is Get with a string key normalised as PHP does ("0" is int 0).
func (a *OrderedArray) GetString(s string) (Value, bool) { return a.Get(StringKey(s)) }

// Set assigns a[k] = v, keeping the position of an existing key.
func (a *OrderedArray) Set(k Key, v Value) {
	if i, ok := a.find(k); ok {
		a.Values[i] = v
		return
	}
	a.Keys = append(a.Keys, k)
	a.Values = append(a.Values, v)
	switch {
	case a.index != nil:
		a.index[k] = len(a.Keys) - 1
	case len(a.Keys) > smallArray:
		a.reindex()
	}
	if k.IsInt && k.I >= a.NextIndex {
		a.NextIndex = k.I + 1
	}
}

// Append is $a[] = v.
func (a *OrderedArray) Append(v Value) { a.Set(IntKey(a.NextIndex), v) }

// IntKey is an integer array key.
func IntKey(i int64) Key { return Key{IsInt: true, I: i} }

// StringKey converts a string key the way PHP does: a canonical decimal
// integer string ("12", "-3", not "012" or "+1") becomes an int key.
func StringKey(s string) Key {
	if i, ok := canonicalInt(s); ok {
		return IntKey(i)
	}
	return Key{S: s}
}

func canonicalInt(s string) (int64, bool) {
	if s == "" || len(s) > 20 {
		return 0, false
	}
	neg := false
	d := s
	if d[0] == '-' {
		neg = true
		d = d[1:]
		if d == "" {
			return 0, false
		}
	}
	// More than 19 digits is out of int64 range, and n*10 below could
	// wrap uint64 ("20000000000000000000" is a string key in PHP).
	if len(d) > 19 || len(d) > 1 && d[0] == '0' {
		return 0, false
	}
	if neg && d == "0" {
		return 0, false
	}
	var n uint64
	for i := 0; i < len(d); i++ {
		c := d[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
		if n > 1<<63 {
			return 0, false
		}
	}
	if !neg && n > 1<<63-1 {
		return 0, false
	}
	if neg {
		return -int64(n), true
	}
	return int64(n), true
}

// IsList reports whether the keys are exactly 0..n-1 in order (json_encode
// then writes a JSON list).
func (a *OrderedArray) IsList() bool {
	for i, k := range a.Keys {
		if !k.IsInt || k.I != int64(i) {
			return false
		}
	}
	return true
}
