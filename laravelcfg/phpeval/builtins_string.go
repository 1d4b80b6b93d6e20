package phpeval

// String functions (ext/standard and mbstring).

import (
	"strings"
	"unicode/utf8"

	"github.com/reverb-go/reverb/laravelcfg/php"
)

func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 32
		}
	}
	return string(b)
}

func asciiUpper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - 32
		}
	}
	return string(b)
}

func ucfirst(s string) string {
	if s == "" {
		return s
	}
	return asciiUpper(s[:1]) + s[1:]
}

func lcfirst(s string) string {
	if s == "" {
		return s
	}
	return asciiLower(s[:1]) + s[1:]
}

// strFn wraps a string → string function with PHP's parameter rules.
func strFn(f func(string) string) builtin {
	return func(in *interp, line int, a []php.Value) php.Value {
		s, ok := in.strArg(a, 0)
		if !ok {
			return in.failed(line, "TypeError: expects a string, "+arg(a, 0).TypeName()+" given")
		}
		return php.StringValue(f(s))
	}
}

func strPred(f func(a, b string) bool) builtin {
	return func(in *interp, line int, a []php.Value) php.Value {
		h, ok1 := in.strArg(a, 0)
		n, ok2 := in.strArg(a, 1)
		if !ok1 || !ok2 {
			return in.failed(line, "TypeError: expects string arguments")
		}
		return php.BoolValue(f(h, n))
	}
}

func fnStrlen(in *interp, line int, a []php.Value) php.Value {
	s, ok := in.strArg(a, 0)
	if !ok {
		return in.failed(line, "TypeError: strlen() expects a string")
	}
	return php.IntValue(int64(len(s)))
}

// trimMask expands PHP's character list ("a..z" ranges).
func trimMask(list string) [256]bool {
	var m [256]bool
	for i := 0; i < len(list); i++ {
		if i+3 < len(list) && list[i+1] == '.' && list[i+2] == '.' && list[i+3] >= list[i] {
			for c := int(list[i]); c <= int(list[i+3]); c++ {
				m[c] = true
			}
			i += 3
			continue
		}
		m[list[i]] = true
	}
	return m
}

// trimFn: mode 1 left, 2 right, 3 both.
func trimFn(mode int) builtin {
	return func(in *interp, line int, a []php.Value) php.Value {
		s, ok := in.strArg(a, 0)
		if !ok {
			return in.failed(line, "TypeError: trim() expects a string, "+arg(a, 0).TypeName()+" given")
		}
		list := php.TrimChars
		if len(a) > 1 {
			l, ok := in.strArg(a, 1)
			if !ok {
				return in.failed(line, "TypeError: trim() characters must be a string")
			}
			list = l
		}
		m := trimMask(list)
		i, j := 0, len(s)
		if mode&1 != 0 {
			for i < j && m[s[i]] {
				i++
			}
		}
		if mode&2 != 0 {
			for j > i && m[s[j-1]] {
				j--
			}
		}
		return php.StringValue(s[i:j])
	}
}

func fnExplode(in *interp, line int, a []php.Value) php.Value {
	sep, ok1 := in.strArg(a, 0)
	s, ok2 := in.strArg(a, 1)
	if !ok1 || !ok2 {
		return in.failed(line, "TypeError: explode() expects string arguments")
	}
	if sep == "" {
		return in.failed(line, "ValueError: explode(): Argument #1 ($separator) cannot be empty")
	}
	limit := int64(1<<62 - 1)
	if len(a) > 2 {
		l, ok := in.intArg(a[2])
		if !ok {
			return in.failed(line, "TypeError: explode(): Argument #3 ($limit) must be of type int")
		}
		limit = l
	}
	parts := strings.Split(s, sep)
	switch {
	case limit > 0 && int64(len(parts)) > limit:
		parts = append(parts[:limit-1], strings.Join(parts[limit-1:], sep))
	case limit < 0:
		if -limit >= int64(len(parts)) {
			parts = nil
		} else {
			parts = parts[:int64(len(parts))+limit]
		}
	case limit == 0 && len(parts) > 1:
		parts = []string{strings.Join(parts, sep)}
	}
	in.grow(line, len(parts))
	out := php.NewArray()
	for _, p := range parts {
		out.Append(php.StringValue(p))
	}
	return php.ArrayValue(out)
}

func fnImplode(in *interp, line int, a []php.Value) php.Value {
	var sep string
	var arr *php.OrderedArray
	switch {
	case len(a) == 1 && a[0].Kind() == php.Array:
		arr = a[0].ArrayVal()
	case len(a) == 2 && a[1].Kind() == php.Array:
		s, ok := in.coerceStr(a[0])
		if !ok {
			return in.failed(line, "TypeError: implode(): Argument #1 ($separator) must be of type string")
		}
		sep, arr = s, a[1].ArrayVal()
	default:
		return in.failed(line, "TypeError: implode(): Argument #2 ($array) must be of type ?array")
	}
	var b strings.Builder
	for i, v := range arr.Values {
		if i > 0 {
			b.WriteString(sep)
		}
		if v.IsUnknown() {
			return v
		}
		if v.Kind() == php.Array {
			b.WriteString("Array")
		} else {
			b.WriteString(v.ToString())
		}
		in.checkString(line, b.Len())
	}
	return php.StringValue(b.String())
}

func fnStrReplace(in *interp, line int, a []php.Value) php.Value {
	if len(a) < 3 {
		return in.failed(line, "ArgumentCountError: str_replace() expects 3 arguments")
	}
	search, replace, subject := a[0], a[1], a[2]
	var pairs [][2]string
	if search.Kind() == php.Array {
		var reps []php.Value
		if replace.Kind() == php.Array {
			reps = replace.ArrayVal().Values
		}
		for i, s := range search.ArrayVal().Values {
			r := ""
			if replace.Kind() != php.Array {
				r = replace.ToString()
			} else if i < len(reps) {
				r = reps[i].ToString()
			}
			pairs = append(pairs, [2]string{s.ToString(), r})
		}
	} else {
		if replace.Kind() == php.Array {
			return in.failed(line, "TypeError: str_replace(): Argument #2 ($replace) must be of type string when argument #1 ($search) is a string")
		}
		pairs = [][2]string{{search.ToString(), replace.ToString()}}
	}
	do := func(s string) php.Value {
		for _, p := range pairs {
			if p[0] == "" {
				continue
			}
			if n := strings.Count(s, p[0]); n > 0 {
				in.checkString(line, len(s)+n*(len(p[1])-len(p[0])))
			}
			s = strings.ReplaceAll(s, p[0], p[1])
		}
		return php.StringValue(s)
	}
	if subject.Kind() == php.Array {
		out := php.NewArray()
		src := subject.ArrayVal()
		in.grow(line, src.Len())
		for i, k := range src.Keys {
			out.Set(k, do(src.Values[i].ToString())) // nested arrays read as "Array"
		}
		return php.ArrayValue(out)
	}
	return do(subject.ToString())
}

func fnSubstr(in *interp, line int, a []php.Value) php.Value {
	s, ok := in.strArg(a, 0)
	start, ok2 := in.intArg(arg(a, 1))
	if !ok || !ok2 {
		return in.failed(line, "TypeError: substr() argument types")
	}
	n := int64(len(s))
	if start < 0 {
		start = max(n+start, 0)
	}
	if start > n {
		return php.StringValue("")
	}
	end := n
	if len(a) > 2 && !a[2].IsNull() {
		l, ok := in.intArg(a[2])
		if !ok {
			return in.failed(line, "TypeError: substr() length must be int")
		}
		if l < 0 {
			end = n + l
		} else {
			end = min(start+l, n)
		}
	}
	if end < start {
		return php.StringValue("")
	}
	return php.StringValue(s[start:end])
}

// fnDirname is dirname($path, $levels) for Unix paths.
func fnDirname(in *interp, line int, a []php.Value) php.Value {
	p, ok := in.strArg(a, 0)
	if !ok {
		return in.failed(line, "TypeError: dirname(): Argument #1 ($path) must be of type string")
	}
	levels := int64(1)
	if len(a) > 1 {
		levels = a[1].ToInt()
		if levels < 1 {
			return in.failed(line, "ValueError: dirname(): Argument #2 ($levels) must be greater than or equal to 1")
		}
	}
	for i := int64(0); i < levels && i < 4096; i++ {
		next := phpDirname(p)
		if next == p {
			break
		}
		p = next
	}
	return php.StringValue(p)
}

func phpDirname(p string) string {
	if p == "" {
		return ""
	}
	t := strings.TrimRight(p, "/")
	if t == "" {
		return "/"
	}
	i := strings.LastIndexByte(t, '/')
	switch {
	case i < 0:
		return "."
	case i == 0:
		return "/"
	}
	d := strings.TrimRight(t[:i], "/")
	if d == "" {
		return "/"
	}
	return d
}

func fnBasename(in *interp, line int, a []php.Value) php.Value {
	p, ok := in.strArg(a, 0)
	if !ok {
		return in.failed(line, "TypeError: basename(): Argument #1 ($path) must be of type string")
	}
	p = strings.TrimRight(p, "/")
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		p = p[i+1:]
	}
	if len(a) > 1 {
		suffix := a[1].ToString()
		if suffix != "" && suffix != p && strings.HasSuffix(p, suffix) {
			p = strings.TrimSuffix(p, suffix)
		}
	}
	return php.StringValue(p)
}

func ucwords(s string) string {
	b := []byte(s)
	up := true
	for i, c := range b {
		if up && c >= 'a' && c <= 'z' {
			b[i] = c - 32
		}
		up = c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v'
	}
	return string(b)
}

func fnStrPad(in *interp, line int, a []php.Value) php.Value {
	s, ok := in.strArg(a, 0)
	n, ok2 := in.intArg(arg(a, 1))
	if !ok || !ok2 {
		return in.failed(line, "TypeError: str_pad() argument types")
	}
	pad := " "
	if len(a) > 2 {
		pad = a[2].ToString()
		if pad == "" {
			return in.failed(line, "ValueError: str_pad(): Argument #3 ($pad_string) must be a non-empty string")
		}
	}
	mode := int64(1) // STR_PAD_RIGHT
	if len(a) > 3 {
		mode = a[3].ToInt()
	}
	missing := int(n) - len(s)
	if missing <= 0 {
		return php.StringValue(s)
	}
	in.checkString(line, int(n))
	fill := func(k int) string {
		return strings.Repeat(pad, k/len(pad)+1)[:k]
	}
	switch mode {
	case 0:
		return php.StringValue(fill(missing) + s)
	case 2:
		left := missing / 2
		return php.StringValue(fill(left) + s + fill(missing-left))
	}
	return php.StringValue(s + fill(missing))
}

// ---- arrays ----

// mbCaseFn is mb_strtoupper / mb_strtolower.
func mbCaseFn(upper bool) builtin {
	name := "mb_strtolower"
	if upper {
		name = "mb_strtoupper"
	}
	return func(in *interp, line int, a []php.Value) php.Value {
		s, ok := in.strArg(a, 0)
		if !ok {
			return in.failed(line, "TypeError: "+name+"(): Argument #1 ($string) must be of type string, "+arg(a, 0).TypeName()+" given")
		}
		v, ok := mbCase(s, upper)
		if !ok {
			return in.unknown(line, name+"() of "+mbCaseRefusal(s))
		}
		return php.StringValue(v)
	}
}

// mbCase is mbstring's full case mapping where it equals the simple,
// one-to-one mapping Go applies. ok is false for text where they differ or
// where PHP versions differ: invalid UTF-8 (PHP writes "?"), characters
// with a special upper-case form (ß → SS, ligatures, ŉ, Greek with
// ypogegrammeni...), İ when lower-casing (i + U+0307), and Σ when
// lower-casing (PHP 8.3 made it ς at the end of a word).
func mbCase(s string, upper bool) (string, bool) {
	if !utf8.ValidString(s) {
		return "", false
	}
	if upper {
		for _, r := range s {
			if upperSpecial(r) {
				return "", false
			}
		}
		return strings.ToUpper(s), true
	}
	if hasLowerSpecial(s) {
		return "", false
	}
	return strings.ToLower(s), true
}

// mbCaseRefusal names why mbCase may refuse s ("" when it is plain).
func mbCaseRefusal(s string) string {
	if !utf8.ValidString(s) {
		return "invalid UTF-8"
	}
	for _, r := range s {
		if upperSpecial(r) || r == 0x130 || r == 0x3A3 {
			return "text with special case mappings (" + string(r) + ")"
		}
	}
	return ""
}

func hasLowerSpecial(s string) bool {
	return strings.ContainsRune(s, 0x130) || strings.ContainsRune(s, 0x3A3)
}

// upperSpecial: the characters SpecialCasing.txt upper-cases to more than
// one character (a superset for the Greek extended block).
func upperSpecial(r rune) bool {
	switch {
	case r == 0xDF, r == 0x149, r == 0x1F0, r == 0x390, r == 0x3B0, r == 0x587:
		return true
	case r >= 0x1E96 && r <= 0x1E9A, r >= 0x1F50 && r <= 0x1F56, r >= 0x1F80 && r <= 0x1FFF, r >= 0xFB00 && r <= 0xFB17:
		return true
	}
	return false
}
