package phpeval

import (
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// specialASCII are transliterations that Unicode decomposition does not
// give (voku/portable-ascii, language "en").
var specialASCII = map[rune]string{
	'ß': "ss", 'ẞ': "SS", 'Æ': "AE", 'æ': "ae", 'Ø': "O", 'ø': "o", 'Œ': "OE", 'œ': "oe",
	'Þ': "TH", 'þ': "th", 'Ð': "D", 'ð': "d", 'Đ': "D", 'đ': "d", 'Ł': "L", 'ł': "l",
	'ı': "i", 'Ħ': "H", 'ħ': "h", 'Ŧ': "T", 'ŧ': "t", 'ĸ': "k", 'Ŀ': "L", 'ŀ': "l",
	'ŉ': "n", 'Ŋ': "N", 'ŋ': "n", 'ſ': "s", 'Ɨ': "I", 'ƚ': "l", 'Ɵ': "O",
	'‘': "'", '’': "'", '‚': ",", '“': "\"", '”': "\"", '„': ",,", '–': "-", '—': "-",
	'…': "...", '\u00a0': " ", 'Ǿ': "O", 'ǿ': "o", '€': "EUR",
	// Separators without a compatibility decomposition to a space.
	'\u1680': " ", '\u200b': " ", '\u2028': " ", '\u2029': " ",
	// Digraph letters voku leaves out (removed, not spelled out).
	'Ǆ': "", 'ǅ': "", 'ǆ': "", 'Ǉ': "", 'ǈ': "", 'ǉ': "", 'Ǌ': "", 'ǋ': "", 'ǌ': "",
}

// ASCII is Str::ascii for Latin scripts: accents are stripped (é → e),
// ligatures and special letters spelled out (ß → ss, æ → ae), tabs, line
// breaks and Unicode spaces made spaces, control characters and any other
// non-ASCII character removed. voku/portable-ascii also transliterates
// Cyrillic, Greek, CJK...; those are dropped here (documented difference).
func ASCII(s string) string {
	s = strings.ReplaceAll(s, "\r\n", " ") // one space, as voku replaces it before "\n" and "\r"
	var b strings.Builder
	for _, r := range s {
		if r < 0x80 {
			switch {
			case r == '\t' || r == '\n' || r == '\r':
				b.WriteByte(' ')
			case (r < 0x20 && r != 0x10 && r != 0x13) || r == 0x7f:
				// voku removes control characters (it keeps 0x10 and 0x13).
			default:
				b.WriteRune(r)
			}
			continue
		}
		if t, ok := specialASCII[r]; ok {
			b.WriteString(t)
			continue
		}
		for _, d := range norm.NFKD.String(string(r)) {
			if d < 0x80 {
				b.WriteRune(d)
			}
		}
	}
	return b.String()
}

// Lossy reports whether ASCII drops a letter or digit of s, i.e. whether
// Str::slug(s) in PHP (which transliterates Cyrillic, Greek, CJK...) may
// differ from Slug(s).
func Lossy(s string) bool {
	for _, r := range s {
		if r < 0x80 {
			continue
		}
		if t, ok := specialASCII[r]; ok && t != "" {
			continue
		}
		if unicode.IsLetter(r) || unicode.IsNumber(r) {
			kept := false
			for _, d := range norm.NFKD.String(string(r)) {
				if d < 0x80 {
					kept = true
				}
			}
			if !kept {
				return true
			}
		}
	}
	return false
}

// Slug is Laravel's Str::slug($title, $separator) with the default
// language "en" and dictionary ['@' => 'at'].
func Slug(title, sep string) string {
	title = ASCII(title)
	flip := "-"
	if sep == "-" {
		flip = "_"
	}
	// Runs of the other separator become the separator.
	title = replaceRuns(title, func(r rune) bool { return string(r) == flip }, sep)
	title = strings.ReplaceAll(title, "@", sep+"at"+sep)
	// Lowercase, then drop everything that is not the separator, a letter,
	// a digit or whitespace.
	var b strings.Builder
	for _, r := range strings.ToLower(title) {
		if strings.ContainsRune(sep, r) || unicode.IsLetter(r) || unicode.IsNumber(r) || isPCREspace(r) {
			b.WriteRune(r)
		}
	}
	title = replaceRuns(b.String(), func(r rune) bool { return strings.ContainsRune(sep, r) || isPCREspace(r) }, sep)
	return strings.Trim(title, sep)
}

// isPCREspace is \s in a /u pattern.
func isPCREspace(r rune) bool { return unicode.IsSpace(r) }

func replaceRuns(s string, in func(rune) bool, with string) string {
	var b strings.Builder
	inRun := false
	for _, r := range s {
		if in(r) {
			if !inRun {
				b.WriteString(with)
				inRun = true
			}
			continue
		}
		inRun = false
		b.WriteRune(r)
	}
	return b.String()
}
