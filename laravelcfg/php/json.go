package php

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
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
	var b []byte
	if err := encodeJSON(&b, v, opts, "", 0); err != nil {
		return nil, err
	}
	return b, nil
}

// encodeJSON appends v to *b; path is v's dotted key path for messages.
func encodeJSON(b *[]byte, v Value, opts JSONOptions, path string, depth int) error {
	if depth > 512 {
		return errors.New("json_encode: maximum depth exceeded")
	}
	switch v.kind {
	case Null:
		*b = append(*b, "null"...)
	case Bool:
		*b = strconv.AppendBool(*b, v.b)
	case Int:
		*b = strconv.AppendInt(*b, v.i, 10)
	case Float:
		if math.IsInf(v.f, 0) || math.IsNaN(v.f) {
			return fmt.Errorf("json_encode: %s: Inf and NaN cannot be JSON encoded", pathOrRoot(path))
		}
		*b = AppendJSONFloat(*b, v.f)
	case String:
		if !utf8.ValidString(v.s) {
			return fmt.Errorf("json_encode: %s: malformed UTF-8 characters", pathOrRoot(path))
		}
		*b = AppendJSONString(*b, v.s, 0)
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
		*b = append(*b, open)
		for i, k := range a.Keys {
			if i > 0 {
				*b = append(*b, ',')
			}
			if opts.Pretty {
				*b = append(*b, '\n')
				*b = append(*b, strings.Repeat("    ", depth+1)...)
			}
			if !list {
				if !k.IsInt && !utf8.ValidString(k.S) {
					return fmt.Errorf("json_encode: %s: malformed UTF-8 characters in a key", pathOrRoot(path))
				}
				*b = AppendJSONString(*b, k.String(), 0)
				*b = append(*b, ':')
				if opts.Pretty {
					*b = append(*b, ' ')
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
			*b = append(*b, '\n')
			*b = append(*b, strings.Repeat("    ", depth)...)
		}
		*b = append(*b, closeCh)
	case Closure:
		*b = append(*b, "{}"...)
	case Unknown:
		if opts.OnUnknown == nil {
			return fmt.Errorf("%s: value not computable: %s", pathOrRoot(path), v.s)
		}
		opts.OnUnknown(path, v)
		*b = append(*b, "null"...)
	}
	return nil
}

func pathOrRoot(p string) string {
	if p == "" {
		return "(root)"
	}
	return p
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
