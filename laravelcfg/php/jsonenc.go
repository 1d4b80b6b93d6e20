package php

import (
	"math"
	"strconv"
	"unicode/utf8"
)

// The json_encode writers below serve both EncodeJSON (config output) and
// server/phpjson (the wire), so the two cannot drift apart.

// jsonSafe marks the bytes written as they are with default flags (ASCII only:
// a 256-entry table spares the hot loop a second comparison).
var jsonSafe = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '/'
	}
	return t
}()

// jsonHexSafe is jsonSafe minus the characters JSON_HEX_* escape.
var jsonHexSafe = func() (t [256]bool) {
	t = jsonSafe
	for _, c := range "<>&'" {
		t[c] = false
	}
	return t
}()

const hexLower = "0123456789abcdef"

// AppendJSONString appends s as a json_encode string literal (with quotes):
// '/' escaped, every non-ASCII code point as lowercase \uXXXX (surrogate
// pairs above U+FFFF), invalid UTF-8 bytes as \ufffd (PHP's
// JSON_INVALID_UTF8_SUBSTITUTE). hexQuotes adds Symfony JsonResponse's
// JSON_HEX_TAG|JSON_HEX_AMP|JSON_HEX_APOS|JSON_HEX_QUOT: <, >, &, ' and "
// become \u003C, \u003E, \u0026, \u0027, \u0022. It does not allocate.
func AppendJSONString(dst []byte, s string, hexQuotes bool) []byte {
	table := &jsonSafe
	if hexQuotes {
		table = &jsonHexSafe
	}
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if table[c] {
			i++
			continue
		}
		dst = append(dst, s[start:i]...)
		if c < utf8.RuneSelf {
			dst = appendASCIIEscape(dst, c, hexQuotes)
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			r = utf8.RuneError
		}
		if r >= 0x10000 {
			r1, r2 := surrogates(r)
			dst = appendU(dst, r1)
			dst = appendU(dst, r2)
		} else {
			dst = appendU(dst, r)
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

func appendASCIIEscape(dst []byte, c byte, hexQuotes bool) []byte {
	switch c {
	case '"':
		if hexQuotes {
			return append(dst, `\u0022`...)
		}
		return append(dst, '\\', '"')
	case '\\':
		return append(dst, '\\', '\\')
	case '/':
		return append(dst, '\\', '/')
	case '\b':
		return append(dst, '\\', 'b')
	case '\f':
		return append(dst, '\\', 'f')
	case '\n':
		return append(dst, '\\', 'n')
	case '\r':
		return append(dst, '\\', 'r')
	case '\t':
		return append(dst, '\\', 't')
	case '<':
		return append(dst, `\u003C`...)
	case '>':
		return append(dst, `\u003E`...)
	case '&':
		return append(dst, `\u0026`...)
	case '\'':
		return append(dst, `\u0027`...)
	}
	return append(dst, '\\', 'u', '0', '0', hexLower[c>>4], hexLower[c&15])
}

func appendU(dst []byte, r rune) []byte {
	return append(dst, '\\', 'u', hexLower[r>>12&15], hexLower[r>>8&15], hexLower[r>>4&15], hexLower[r&15])
}

func surrogates(r rune) (rune, rune) {
	r -= 0x10000
	return 0xD800 + (r>>10)&0x3FF, 0xDC00 + r&0x3FF
}

// AppendJSONFloat appends f as PHP json_encode writes a float with
// serialize_precision -1: the shortest digits that round-trip; fixed
// notation without a fraction for integral values while the decimal
// exponent is below 17 (1.0e+17 above); 0.0001 fixed but 1.0e-5
// scientific; the mantissa of the scientific form always has a fraction and
// the exponent a sign. INF and NAN are written as 0 (json_encode fails on
// them; 0 is its partial output).
func AppendJSONFloat(dst []byte, f float64) []byte {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return append(dst, '0')
	}
	// Shortest round-trip digits and the decimal exponent, from Go's
	// formatter: "d.ddde±XX".
	var buf [32]byte
	e := strconv.AppendFloat(buf[:0], f, 'e', -1, 64)
	neg := false
	if e[0] == '-' {
		neg = true
		e = e[1:]
	}
	var digits [24]byte
	nd := 0
	i := 0
	for ; e[i] != 'e'; i++ {
		if e[i] != '.' {
			digits[nd] = e[i]
			nd++
		}
	}
	exp, _ := strconv.Atoi(string(e[i+1:]))
	// Drop trailing zeros ("1e+00" → digits "1").
	for nd > 1 && digits[nd-1] == '0' {
		nd--
	}
	d := digits[:nd]
	decpt := exp + 1 // value = 0.d × 10^decpt, as zend_dtoa reports it
	if f == 0 {
		d, decpt = []byte{'0'}, 1
	}
	if neg {
		dst = append(dst, '-')
	}
	switch {
	case decpt < -3 || decpt > 17:
		// Scientific: d.ddd e±x.
		x := decpt - 1
		dst = append(dst, d[0], '.')
		if len(d) == 1 {
			dst = append(dst, '0')
		} else {
			dst = append(dst, d[1:]...)
		}
		dst = append(dst, 'e')
		if x < 0 {
			dst = append(dst, '-')
			x = -x
		} else {
			dst = append(dst, '+')
		}
		return strconv.AppendInt(dst, int64(x), 10)
	case decpt <= 0:
		dst = append(dst, '0', '.')
		for ; decpt < 0; decpt++ {
			dst = append(dst, '0')
		}
		return append(dst, d...)
	default:
		for j := 0; j < decpt; j++ {
			if j < len(d) {
				dst = append(dst, d[j])
			} else {
				dst = append(dst, '0')
			}
		}
		if decpt < len(d) {
			dst = append(dst, '.')
			dst = append(dst, d[decpt:]...)
		}
		return dst
	}
}
