package dotenv

import "unicode/utf8"

// bom is the UTF-8 byte order mark phpdotenv's file reader strips.
const bom = "\xEF\xBB\xBF"

// toUTF8 does what phpdotenv's Str::utf8 does to file contents: PHP's
// mb_convert_encoding($s, 'UTF-8') from UTF-8 (the internal encoding), which
// replaces every ill-formed sequence by '?', one '?' per maximal subpart of
// an ill-formed sequence (PHP >= 8.1 follows Unicode's recommended practice:
// "\xE2\x82A" gives "?A", "\xED\xA0\x80" gives "???"). Then a leading BOM is
// removed.
func toUTF8(data []byte) string {
	var s string
	if utf8.Valid(data) {
		s = string(data)
	} else {
		s = replaceIllFormed(data)
	}
	if len(s) >= len(bom) && s[:len(bom)] == bom {
		s = s[len(bom):]
	}
	return s
}

func replaceIllFormed(data []byte) string {
	out := make([]byte, 0, len(data))
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		if r != utf8.RuneError || size > 1 {
			out = append(out, data[i:i+size]...)
			i += size
			continue
		}
		out = append(out, '?')
		i += maximalSubpart(data[i:])
	}
	return string(out)
}

// maximalSubpart returns how many bytes at the start of b (which does not
// start with a well-formed sequence) form one ill-formed unit: the lead byte
// plus the continuation bytes that are still valid for it (Unicode 3.9,
// table 3-7), at least 1.
func maximalSubpart(b []byte) int {
	lead := b[0]
	var need int
	lo, hi := byte(0x80), byte(0xBF) // range of the second byte
	switch {
	case lead >= 0xC2 && lead <= 0xDF:
		need = 1
	case lead == 0xE0:
		need, lo = 2, 0xA0
	case lead >= 0xE1 && lead <= 0xEC, lead == 0xEE, lead == 0xEF:
		need = 2
	case lead == 0xED:
		need, hi = 2, 0x9F
	case lead == 0xF0:
		need, lo = 3, 0x90
	case lead >= 0xF1 && lead <= 0xF3:
		need = 3
	case lead == 0xF4:
		need, hi = 3, 0x8F
	default:
		return 1
	}
	n := 1
	for k := 0; k < need && n < len(b); k++ {
		c := b[n]
		if k == 0 {
			if c < lo || c > hi {
				break
			}
		} else if c < 0x80 || c > 0xBF {
			break
		}
		n++
	}
	return n
}
