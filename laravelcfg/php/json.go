package php

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// JSONOptions tunes EncodeJSON.
type JSONOptions struct {
	// Pretty indents like JSON_PRETTY_PRINT (4 spaces).
	Pretty bool
	// OnUnknown is called for each Unknown value met, with its dotted path;
	// the value is then written as null. Nil means an Unknown is an error.
	OnUnknown func(path string, v Value)
}

// EncodeJSON is json_encode($v) with PHP's default flags: "/" escaped as
// "\/", every non-ASCII code point as \uXXXX, lists as JSON arrays and other
// arrays as objects, floats with the shortest round-trip digits. Invalid
// UTF-8 and INF/NAN are errors, as json_encode returns false for them.
func EncodeJSON(v Value, opts JSONOptions) ([]byte, error) {
	var b strings.Builder
	if err := encodeJSON(&b, v, opts, "", 0); err != nil {
		return nil, err
	}
	return []byte(b.String()), nil
}

func encodeJSON(b *strings.Builder, v Value, opts JSONOptions, path string, depth int) error {
	if depth > 512 {
		return errors.New("json_encode: maximum depth exceeded")
	}
	switch v.kind {
	case Null:
		b.WriteString("null")
	case Bool:
		if v.b {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	case Int:
		b.WriteString(strconv.FormatInt(v.i, 10))
	case Float:
		if math.IsInf(v.f, 0) || math.IsNaN(v.f) {
			return fmt.Errorf("json_encode: %s: Inf and NaN cannot be JSON encoded", pathOrRoot(path))
		}
		b.WriteString(formatG(v.f, 0, "e"))
	case String:
		if !utf8.ValidString(v.s) {
			return fmt.Errorf("json_encode: %s: malformed UTF-8 characters", pathOrRoot(path))
		}
		writeJSONString(b, v.s)
	case Array:
		a := v.arr
		if a == nil {
			a = NewArray()
		}
		list := a.IsList()
		open, closeCh := byte('{'), byte('}')
		if list {
			open, closeCh = '[', ']'
		}
		b.WriteByte(open)
		for i, k := range a.Keys {
			if i > 0 {
				b.WriteByte(',')
			}
			if opts.Pretty {
				b.WriteByte('\n')
				b.WriteString(strings.Repeat("    ", depth+1))
			}
			if !list {
				if !k.IsInt && !utf8.ValidString(k.S) {
					return fmt.Errorf("json_encode: %s: malformed UTF-8 characters in a key", pathOrRoot(path))
				}
				writeJSONString(b, k.String())
				b.WriteByte(':')
				if opts.Pretty {
					b.WriteByte(' ')
				}
			}
			sub := k.String()
			if path != "" {
				sub = path + "." + sub
			}
			if err := encodeJSON(b, a.Values[i], opts, sub, depth+1); err != nil {
				return err
			}
		}
		if opts.Pretty && a.Len() > 0 {
			b.WriteByte('\n')
			b.WriteString(strings.Repeat("    ", depth))
		}
		b.WriteByte(closeCh)
	case Closure:
		b.WriteString("{}")
	case Unknown:
		if opts.OnUnknown == nil {
			return fmt.Errorf("%s: value not computable: %s", pathOrRoot(path), v.s)
		}
		opts.OnUnknown(path, v)
		b.WriteString("null")
	}
	return nil
}

func pathOrRoot(p string) string {
	if p == "" {
		return "(root)"
	}
	return p
}

const hexDigits = "0123456789abcdef"

func writeJSONString(b *strings.Builder, s string) {
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '/':
			b.WriteString(`\/`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			switch {
			case r < 0x20:
				writeU(b, r)
			case r < 0x80:
				b.WriteRune(r)
			case r >= 0x10000:
				r1, r2 := utf16.EncodeRune(r)
				writeU(b, r1)
				writeU(b, r2)
			default:
				writeU(b, r)
			}
		}
	}
	b.WriteByte('"')
}

func writeU(b *strings.Builder, r rune) {
	b.WriteString(`\u`)
	b.WriteByte(hexDigits[r>>12&0xf])
	b.WriteByte(hexDigits[r>>8&0xf])
	b.WriteByte(hexDigits[r>>4&0xf])
	b.WriteByte(hexDigits[r&0xf])
}

// Lookup walks a dotted key ("reverb.apps.apps.0.key") as Laravel's
// Arr::get does; ok is false when a segment is missing or not an array.
func Lookup(v Value, dotted string) (Value, bool) {
	if dotted == "" {
		return v, true
	}
	for _, seg := range strings.Split(dotted, ".") {
		if v.kind != Array {
			return Value{}, false
		}
		next, ok := v.arr.GetString(seg)
		if !ok {
			return Value{}, false
		}
		v = next
	}
	return v, true
}
