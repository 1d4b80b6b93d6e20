package phpwire

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/reverb-go/reverb/laravelcfg/php"
)

// Kind is the type of a decoded value.
type Kind uint8

// The kinds of serialize() entries the decoder reads.
const (
	Null Kind = iota
	Bool
	Int
	Float
	String
	Array
	Object
	Enum
)

// Value is one decoded serialize() entry. Arrays and objects keep their
// entries in order; an object's property names are as PHP wrote them
// (protected ones start with "\0*\0").
type Value struct {
	Kind  Kind
	Bool  bool
	Int   int64
	Float float64
	// Str is a string's bytes, an object's class, or an enum's
	// "Class:Case".
	Str     string
	Entries []Entry
}

// Entry is one array element or object property.
type Entry struct {
	Key php.Key
	Val Value
}

// Prop returns an object's property by its bare name, whatever its
// visibility (public "name", protected "\0*\0name", private
// "\0Class\0name").
func (v Value) Prop(name string) (Value, bool) {
	if v.Kind != Object {
		return Value{}, false
	}
	for _, e := range v.Entries {
		k := e.Key.S
		if e.Key.IsInt {
			continue
		}
		if k == name {
			return e.Val, true
		}
		if len(k) > 0 && k[0] == 0 {
			if i := strings.IndexByte(k[1:], 0); i >= 0 && k[i+2:] == name {
				return e.Val, true
			}
		}
	}
	return Value{}, false
}

// PHP converts the value to a php.Value: objects and enums, which the
// config model has no type for, become null.
func (v Value) PHP() php.Value {
	switch v.Kind {
	case Bool:
		return php.BoolValue(v.Bool)
	case Int:
		return php.IntValue(v.Int)
	case Float:
		return php.FloatValue(v.Float)
	case String:
		return php.StringValue(v.Str)
	case Array:
		a := php.NewArray()
		for _, e := range v.Entries {
			a.Set(e.Key, e.Val.PHP())
		}
		return php.ArrayValue(a)
	}
	return php.NullValue()
}

// SyntaxError says what is wrong and at which byte offset.
type SyntaxError struct {
	Offset int
	Msg    string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("phpwire: %s at offset %d", e.Msg, e.Offset)
}

// maxDepth bounds nesting so hostile input cannot exhaust the stack.
const maxDepth = 64

// Decode reads one serialize() string that must span all of data. It
// supports N; b: i: d: s: a: O: E: (no references, no custom C:
// serialization: Reverb never writes them).
func Decode(data string) (Value, error) {
	d := &decoder{s: data}
	v, err := d.value(0)
	if err != nil {
		return Value{}, err
	}
	if d.pos != len(d.s) {
		return Value{}, d.fail("trailing data")
	}
	return v, nil
}

type decoder struct {
	s   string
	pos int
}

func (d *decoder) fail(format string, args ...any) error {
	return &SyntaxError{Offset: d.pos, Msg: fmt.Sprintf(format, args...)}
}

func (d *decoder) expect(c byte) error {
	if d.pos >= len(d.s) || d.s[d.pos] != c {
		if d.pos >= len(d.s) {
			return d.fail("expected %q, found end of input", c)
		}
		return d.fail("expected %q, found %q", c, d.s[d.pos])
	}
	d.pos++
	return nil
}

// until returns the text up to the next c and skips c.
func (d *decoder) until(c byte) (string, error) {
	i := strings.IndexByte(d.s[d.pos:], c)
	if i < 0 {
		return "", d.fail("missing %q", c)
	}
	t := d.s[d.pos : d.pos+i]
	d.pos += i + 1
	return t, nil
}

func (d *decoder) integer(term byte) (int64, error) {
	start := d.pos
	t, err := d.until(term)
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil {
		d.pos = start
		return 0, d.fail("bad integer %q", t)
	}
	return n, nil
}

func (d *decoder) length(term byte) (int, error) {
	start := d.pos
	n, err := d.integer(term)
	if err != nil {
		return 0, err
	}
	if n < 0 || n > int64(len(d.s)) {
		d.pos = start
		return 0, d.fail("length %d out of range", n)
	}
	return int(n), nil
}

// quoted reads "<n bytes>" followed by term.
func (d *decoder) quoted(n int, term byte) (string, error) {
	if err := d.expect('"'); err != nil {
		return "", err
	}
	if len(d.s)-d.pos < n+1 {
		return "", d.fail("string of %d bytes runs past the end", n)
	}
	t := d.s[d.pos : d.pos+n]
	d.pos += n
	if err := d.expect('"'); err != nil {
		return "", err
	}
	return t, d.expect(term)
}

func (d *decoder) value(depth int) (Value, error) {
	if depth > maxDepth {
		return Value{}, d.fail("nesting deeper than %d", maxDepth)
	}
	if len(d.s)-d.pos < 2 {
		return Value{}, d.fail("truncated value")
	}
	tag := d.s[d.pos]
	if tag == 'N' {
		d.pos++
		return Value{}, d.expect(';')
	}
	d.pos++
	if err := d.expect(':'); err != nil {
		return Value{}, err
	}
	switch tag {
	case 'b':
		n, err := d.integer(';')
		if err != nil {
			return Value{}, err
		}
		if n != 0 && n != 1 {
			return Value{}, d.fail("bad boolean %d", n)
		}
		return Value{Kind: Bool, Bool: n == 1}, nil
	case 'i':
		n, err := d.integer(';')
		return Value{Kind: Int, Int: n}, err
	case 'd':
		start := d.pos
		t, err := d.until(';')
		if err != nil {
			return Value{}, err
		}
		var f float64
		switch t {
		case "INF":
			f = math.Inf(1)
		case "-INF":
			f = math.Inf(-1)
		case "NAN":
			f = math.NaN()
		default:
			if f, err = strconv.ParseFloat(t, 64); err != nil {
				d.pos = start
				return Value{}, d.fail("bad float %q", t)
			}
		}
		return Value{Kind: Float, Float: f}, nil
	case 's':
		n, err := d.length(':')
		if err != nil {
			return Value{}, err
		}
		t, err := d.quoted(n, ';')
		return Value{Kind: String, Str: t}, err
	case 'E':
		n, err := d.length(':')
		if err != nil {
			return Value{}, err
		}
		t, err := d.quoted(n, ';')
		if err == nil && !strings.Contains(t, ":") {
			return Value{}, d.fail("enum %q has no case", t)
		}
		return Value{Kind: Enum, Str: t}, err
	case 'a':
		n, err := d.length(':')
		if err != nil {
			return Value{}, err
		}
		entries, err := d.entries(n, depth, false)
		return Value{Kind: Array, Entries: entries}, err
	case 'O':
		n, err := d.length(':')
		if err != nil {
			return Value{}, err
		}
		class, err := d.quoted(n, ':')
		if err != nil {
			return Value{}, err
		}
		props, err := d.length(':')
		if err != nil {
			return Value{}, err
		}
		entries, err := d.entries(props, depth, true)
		return Value{Kind: Object, Str: class, Entries: entries}, err
	}
	d.pos -= 2
	return Value{}, d.fail("unsupported type %q", tag)
}

// entries reads {<key><value>...} with n pairs.
func (d *decoder) entries(n, depth int, object bool) ([]Entry, error) {
	if err := d.expect('{'); err != nil {
		return nil, err
	}
	// Every pair takes at least 8 bytes (i:0;N; is 6, plus braces), so a
	// count larger than the input is a lie; do not preallocate for it.
	out := make([]Entry, 0, min(n, (len(d.s)-d.pos)/6+1))
	for range n {
		at := d.pos
		k, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		var key php.Key
		switch {
		case k.Kind == Int && !object:
			key = php.IntKey(k.Int)
		case k.Kind == String:
			if object {
				key = php.Key{S: k.Str}
			} else {
				key = php.StringKey(k.Str)
			}
		default:
			d.pos = at
			return nil, d.fail("bad key type")
		}
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		out = append(out, Entry{Key: key, Val: v})
	}
	return out, d.expect('}')
}

// ApplicationID reads the id property of a serialized
// Laravel\Reverb\Application.
func ApplicationID(s string) (string, error) {
	v, err := Decode(s)
	if err != nil {
		return "", err
	}
	return applicationID(v)
}

func applicationID(v Value) (string, error) {
	if v.Kind != Object || v.Str != ApplicationClass {
		return "", fmt.Errorf("phpwire: not a %s", ApplicationClass)
	}
	id, ok := v.Prop("id")
	if !ok {
		return "", fmt.Errorf("phpwire: %s without an id", ApplicationClass)
	}
	switch id.Kind {
	case String:
		return id.Str, nil
	case Int:
		return strconv.FormatInt(id.Int, 10), nil
	}
	return "", fmt.Errorf("phpwire: %s id is not a string", ApplicationClass)
}

// DecodePendingMetric reads a serialized PendingMetric: its key, the id of
// its application, its type and options.
func DecodePendingMetric(s string) (PendingMetric, error) {
	var m PendingMetric
	v, err := Decode(s)
	if err != nil {
		return m, err
	}
	if v.Kind != Object || v.Str != PendingMetricClass {
		return m, fmt.Errorf("phpwire: not a %s", PendingMetricClass)
	}
	key, ok := v.Prop("key")
	if !ok || key.Kind != String {
		return m, fmt.Errorf("phpwire: %s without a string key", PendingMetricClass)
	}
	m.Key = key.Str
	app, _ := v.Prop("application")
	if m.AppID, err = applicationID(app); err != nil {
		return m, err
	}
	typ, ok := v.Prop("type")
	if !ok || typ.Kind != Enum || !strings.HasPrefix(typ.Str, MetricTypeEnum+":") {
		return m, fmt.Errorf("phpwire: %s without a %s type", PendingMetricClass, MetricTypeEnum)
	}
	m.Type = MetricType(typ.Str[len(MetricTypeEnum)+1:])
	opts, _ := v.Prop("options")
	m.Options = opts.PHP()
	if m.Options.Kind() != php.Array {
		m.Options = php.ArrayValue(nil)
	}
	return m, nil
}

// AppendDecoded appends the serialize() form of a decoded value; for
// anything Decode accepted from PHP it reproduces PHP's bytes.
func AppendDecoded(b []byte, v Value) []byte {
	switch v.Kind {
	case Null:
		return AppendNull(b)
	case Bool:
		return AppendBool(b, v.Bool)
	case Int:
		return AppendInt(b, v.Int)
	case Float:
		return AppendFloat(b, v.Float)
	case String:
		return AppendString(b, v.Str)
	case Enum:
		b = append(b, "E:"...)
		b = strconv.AppendInt(b, int64(len(v.Str)), 10)
		b = append(b, ':', '"')
		b = append(b, v.Str...)
		return append(b, '"', ';')
	case Array:
		b = append(b, "a:"...)
		b = strconv.AppendInt(b, int64(len(v.Entries)), 10)
		b = append(b, ':', '{')
	case Object:
		b = appendObjectHeader(b, v.Str, len(v.Entries))
	}
	for _, e := range v.Entries {
		if e.Key.IsInt {
			b = AppendInt(b, e.Key.I)
		} else {
			b = AppendString(b, e.Key.S)
		}
		b = AppendDecoded(b, e.Val)
	}
	return append(b, '}')
}
