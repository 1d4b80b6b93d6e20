package php

import (
	"math"
	"strconv"
	"unicode/utf8"
)

// The json_encode writers below serve the config evaluator's json_encode,
// EncodeJSON (config output) and server/phpjson (the wire), so none of them
// can drift apart from the others.

// JSONFlags is json_encode's $flags argument, with PHP's values.
// AppendJSONString honours the ones that change how a string is written.
type JSONFlags int64

const (
	JSONHexTag                   JSONFlags = 1
	JSONHexAmp                   JSONFlags = 2
	JSONHexApos                  JSONFlags = 4
	JSONHexQuot                  JSONFlags = 8
	JSONUnescapedSlashes         JSONFlags = 64
	JSONUnescapedUnicode         JSONFlags = 256
	JSONUnescapedLineTerminators JSONFlags = 2048

	// JSONHexAll is Symfony JsonResponse's escaping (JSON_HEX_TAG |
	// JSON_HEX_AMP | JSON_HEX_APOS | JSON_HEX_QUOT).
	JSONHexAll = JSONHexTag | JSONHexAmp | JSONHexApos | JSONHexQuot
)

// jsonSafeTables[asciiFlags(f)] marks the bytes written as they are under
// flags f. Only ASCII is ever safe: a 256-entry table per combination of the
// five flags that change how ASCII is written spares the hot loop a second
// comparison per byte.
var jsonSafeTables = func() (t [32][256]bool) {
	for i := range t {
		f := JSONFlags(i&15 | (i&16)<<2)
		for c := 0x20; c < utf8.RuneSelf; c++ {
			t[i][c] = asciiWrittenAsIs(byte(c), f)
		}
	}
	return t
}()

func asciiWrittenAsIs(c byte, f JSONFlags) bool {
	switch c {
	case '"', '\\':
		return false
	case '/':
		return f&JSONUnescapedSlashes != 0
	case '<', '>':
		return f&JSONHexTag == 0
	case '&':
		return f&JSONHexAmp == 0
	case '\'':
		return f&JSONHexApos == 0
	}
	return true
}

// asciiFlags packs the flags jsonSafeTables is indexed by into five bits.
func asciiFlags(f JSONFlags) int { return int(f&15 | (f&JSONUnescapedSlashes)>>2) }

const hexLower = "0123456789abcdef"

// AppendJSONString appends s as json_encode($s, $flags) writes it (with
// quotes). With no flags: '/' escaped, every non-ASCII code point as
// lowercase \uXXXX (surrogate pairs above U+FFFF). JSON_HEX_* write <, >, &,
// ' and " as \u003C, \u003E, \u0026, \u0027, \u0022; JSON_UNESCAPED_SLASHES
// leaves '/'; JSON_UNESCAPED_UNICODE leaves non-ASCII as UTF-8 except U+2028
// and U+2029, which need JSON_UNESCAPED_LINE_TERMINATORS too. Invalid UTF-8
// bytes become U+FFFD (PHP's JSON_INVALID_UTF8_SUBSTITUTE); a caller that
// must fail on them as json_encode does checks first. It does not allocate.
func AppendJSONString(dst []byte, s string, f JSONFlags) []byte {
	table := &jsonSafeTables[asciiFlags(f)]
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
			dst = appendASCIIEscape(dst, c, f)
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			size = invalidUTF8Len(s[i:])
		}
		switch {
		case f&JSONUnescapedUnicode != 0 && (f&JSONUnescapedLineTerminators != 0 || r != 0x2028 && r != 0x2029):
			dst = utf8.AppendRune(dst, r) // RuneError for an invalid byte: U+FFFD
		case r >= 0x10000:
			r1, r2 := surrogates(r)
			dst = appendU(dst, r1)
			dst = appendU(dst, r2)
		default:
			dst = appendU(dst, r)
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// invalidUTF8Len is how many bytes PHP's UTF-8 decoder (php_next_utf8_char,
// which json_encode uses) takes as one invalid sequence at the start of s:
// a lead byte and the bytes after it up to the first that could start a
// character, at most the length the lead byte announces. Each such run
// becomes one U+FFFD.
func invalidUTF8Len(s string) int {
	c := s[0]
	var want int
	switch {
	case c >= 0xC2 && c < 0xE0:
		want = 2
	case c >= 0xE0 && c < 0xF0:
		want = 3
	case c >= 0xF0 && c < 0xF5:
		want = 4
	default:
		return 1
	}
	n := 1
	for ; n < want; n++ {
		if n >= len(s) || !isUTF8Trail(s[n]) {
			break
		}
	}
	if n == want {
		// A complete sequence of trail bytes that is still invalid
		// (overlong, a surrogate, above U+10FFFF): taken whole.
		return want
	}
	// Cut short: PHP takes the bytes up to the first one that can start a
	// character (ASCII or a valid lead byte), or to the end.
	for n = 1; n < want && n < len(s); n++ {
		if isUTF8Lead(s[n]) {
			return n
		}
	}
	return n
}

func isUTF8Trail(c byte) bool { return c >= 0x80 && c <= 0xBF }

func isUTF8Lead(c byte) bool { return c < 0x80 || c >= 0xC2 && c <= 0xF4 }

// appendASCIIEscape writes an ASCII byte the table under f did not pass.
func appendASCIIEscape(dst []byte, c byte, f JSONFlags) []byte {
	switch c {
	case '"':
		if f&JSONHexQuot != 0 {
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
