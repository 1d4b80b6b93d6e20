package phpeval

import (
	"fmt"
	"strconv"
	"strings"
)

// tokKind classifies a token.
type tokKind uint8

const (
	tEOF      tokKind = iota
	tIdent            // names, keywords, namespaced names (Foo\Bar, \Foo)
	tVar              // $name (text without the $)
	tInt              // integer literal (value in num)
	tFloat            // float literal
	tString           // single-quoted or escape-free string (text is the value)
	tTemplate         // double-quoted string with interpolation (parts)
	tOp               // punctuation and operators
	tBacktick         // `shell` (never executed)
)

type token struct {
	kind  tokKind
	text  string
	line  int
	ival  int64
	fval  float64
	parts []strPart // tTemplate
}

// strPart is a piece of an interpolated string: literal text, or a variable
// (with optional [key] / ->prop access that makes it unsupported).
type strPart struct {
	lit     string
	varName string
	isVar   bool
	keyLit  *string // "$a[key]" or "{$a['key']}"
	bad     string  // construct the evaluator refuses ("$a->b", "{$a->b()}")
}

// lexError is a parse error with its line.
type lexError struct {
	line int
	msg  string
}

// ops are the operators, longest first so the lexer is greedy.
var ops = []string{
	"<=>", "===", "!==", "**=", "...", "??=", "<<=", ">>=",
	"==", "!=", "<>", "<=", ">=", "&&", "||", "??", "?->", "->", "=>", "::",
	"++", "--", "+=", "-=", "*=", "/=", ".=", "%=", "**", "<<", ">>", "|=", "&=", "^=",
	"+", "-", "*", "/", "%", "=", "<", ">", "!", ".", "(", ")", "[", "]", "{", "}",
	",", ";", "?", ":", "&", "|", "^", "~", "@",
}

// maxTokens bounds the work on hostile input.
const maxTokens = 1 << 20

func lex(src string) ([]token, *lexError) {
	var toks []token
	line := 1
	i := 0
	// Everything before <?php is inline HTML; config files start with it.
	if j := indexFold(src, "<?php"); j >= 0 {
		line += strings.Count(src[:j], "\n")
		i = j + len("<?php")
	} else if j := strings.Index(src, "<?"); j >= 0 {
		line += strings.Count(src[:j], "\n")
		i = j + 2
	} else {
		return nil, &lexError{1, "no <?php open tag"}
	}
	for i < len(src) {
		if len(toks) > maxTokens {
			return nil, &lexError{line, "file too large"}
		}
		c := src[i]
		switch {
		case c == '\n':
			line++
			i++
		case c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v':
			i++
		case c == '#' && i+1 < len(src) && src[i+1] == '[':
			// Attribute #[...]: skip to the matching ].
			depth := 0
			for i < len(src) {
				if src[i] == '[' {
					depth++
				} else if src[i] == ']' {
					depth--
					if depth == 0 {
						i++
						break
					}
				} else if src[i] == '\n' {
					line++
				}
				i++
			}
		case c == '#' || (c == '/' && i+1 < len(src) && src[i+1] == '/'):
			for i < len(src) && src[i] != '\n' {
				if strings.HasPrefix(src[i:], "?>") {
					break
				}
				i++
			}
		case c == '/' && i+1 < len(src) && src[i+1] == '*':
			end := strings.Index(src[i+2:], "*/")
			if end < 0 {
				return nil, &lexError{line, "unterminated comment"}
			}
			line += strings.Count(src[i:i+2+end], "\n")
			i += end + 4
		case c == '?' && i+1 < len(src) && src[i+1] == '>':
			// Closing tag: the rest is output, not code.
			i = len(src)
		case c == '$' && i+1 < len(src) && isIdentStart(src[i+1]):
			j := i + 1
			for j < len(src) && isIdentChar(src[j]) {
				j++
			}
			toks = append(toks, token{kind: tVar, text: src[i+1 : j], line: line})
			i = j
		case isIdentStart(c) || (c == '\\' && i+1 < len(src) && isIdentStart(src[i+1])):
			j := i
			for j < len(src) && (isIdentChar(src[j]) || (src[j] == '\\' && j+1 < len(src) && isIdentStart(src[j+1]))) {
				j++
			}
			if j+1 < len(src) && src[j] == '\\' && src[j+1] == '{' {
				j++ // group use: Foo\{A, B}
			}
			toks = append(toks, token{kind: tIdent, text: src[i:j], line: line})
			i = j
		case c >= '0' && c <= '9' || (c == '.' && i+1 < len(src) && src[i+1] >= '0' && src[i+1] <= '9'):
			t, n, err := lexNumber(src[i:])
			if err != "" {
				return nil, &lexError{line, err}
			}
			t.line = line
			toks = append(toks, t)
			i += n
		case c == '\'':
			s, n, ok := lexSingle(src[i:])
			if !ok {
				return nil, &lexError{line, "unterminated string"}
			}
			toks = append(toks, token{kind: tString, text: s, line: line})
			line += strings.Count(src[i:i+n], "\n")
			i += n
		case c == '"':
			t, n, err := lexDouble(src[i:])
			if err != "" {
				return nil, &lexError{line, err}
			}
			t.line = line
			toks = append(toks, t)
			line += strings.Count(src[i:i+n], "\n")
			i += n
		case c == '`':
			end := strings.IndexByte(src[i+1:], '`')
			if end < 0 {
				return nil, &lexError{line, "unterminated backtick"}
			}
			toks = append(toks, token{kind: tBacktick, line: line})
			line += strings.Count(src[i:i+end+2], "\n")
			i += end + 2
		case c == '<' && strings.HasPrefix(src[i:], "<<<"):
			t, n, err := lexHeredoc(src[i:])
			if err != "" {
				return nil, &lexError{line, err}
			}
			t.line = line
			toks = append(toks, t)
			line += strings.Count(src[i:i+n], "\n")
			i += n
		default:
			matched := false
			for _, op := range ops {
				if strings.HasPrefix(src[i:], op) {
					toks = append(toks, token{kind: tOp, text: op, line: line})
					i += len(op)
					matched = true
					break
				}
			}
			if !matched {
				return nil, &lexError{line, fmt.Sprintf("unexpected character %q", c)}
			}
		}
	}
	toks = append(toks, token{kind: tEOF, line: line})
	return toks, nil
}

// indexFold is a case-insensitive strings.Index for an ASCII needle
// (PHP's open tag is case-insensitive: <?PHP works).
func indexFold(s, needle string) int {
	for i := 0; i+len(needle) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(needle)], needle) {
			return i
		}
	}
	return -1
}

func isIdentStart(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}

func isIdentChar(c byte) bool { return isIdentStart(c) || c >= '0' && c <= '9' }

// lexNumber reads an int or float literal with PHP's forms: 10_000, 0x1F,
// 0o17/017, 0b101, 1.5, .5, 1e3. Ints that overflow become floats, as in PHP.
func lexNumber(s string) (token, int, string) {
	digitsWhile := func(j int, ok func(byte) bool) int {
		for j < len(s) && (ok(s[j]) || s[j] == '_' && j+1 < len(s) && ok(s[j+1]) && j > 0 && ok(s[j-1])) {
			j++
		}
		return j
	}
	isDec := func(c byte) bool { return c >= '0' && c <= '9' }
	j := 0
	isFloat := false
	if len(s) > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') {
		j = digitsWhile(2, isHex)
	} else if len(s) > 2 && s[0] == '0' && (s[1] == 'b' || s[1] == 'B') {
		j = digitsWhile(2, func(c byte) bool { return c == '0' || c == '1' })
	} else if len(s) > 2 && s[0] == '0' && (s[1] == 'o' || s[1] == 'O') {
		j = digitsWhile(2, func(c byte) bool { return c >= '0' && c <= '7' })
	} else {
		j = digitsWhile(0, isDec)
		if j < len(s) && s[j] == '.' && j+1 < len(s) && isDec(s[j+1]) {
			isFloat = true
			j = digitsWhile(j+1, isDec)
		}
		if j < len(s) && (s[j] == 'e' || s[j] == 'E') {
			k := j + 1
			if k < len(s) && (s[k] == '+' || s[k] == '-') {
				k++
			}
			if k < len(s) && isDec(s[k]) {
				isFloat = true
				j = digitsWhile(k, isDec)
			}
		}
	}
	raw := s[:j]
	if j < len(s) && (isIdentChar(s[j])) {
		return token{}, 0, "invalid numeric literal " + s[:j+1]
	}
	lit := strings.ReplaceAll(raw, "_", "")
	if isFloat {
		f, err := strconv.ParseFloat(lit, 64)
		if err != nil {
			if ne, ok := err.(*strconv.NumError); !ok || ne.Err != strconv.ErrRange {
				return token{}, 0, "invalid numeric literal " + raw
			}
		}
		return token{kind: tFloat, fval: f, text: raw}, j, ""
	}
	base, digits := 10, lit
	low := strings.ToLower(lit)
	switch {
	case strings.HasPrefix(low, "0x"):
		base, digits = 16, low[2:]
	case strings.HasPrefix(low, "0b"):
		base, digits = 2, low[2:]
	case strings.HasPrefix(low, "0o"):
		base, digits = 8, low[2:]
	case len(low) > 1 && low[0] == '0':
		base, digits = 8, low[1:]
	}
	if digits == "" {
		return token{}, 0, "invalid numeric literal " + raw
	}
	n, err := strconv.ParseUint(digits, base, 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			f, _ := parseBigFloat(digits, base)
			return token{kind: tFloat, fval: f, text: raw}, j, ""
		}
		return token{}, 0, "invalid numeric literal " + raw
	}
	if n > 1<<63-1 {
		return token{kind: tFloat, fval: float64(n), text: raw}, j, ""
	}
	return token{kind: tInt, ival: int64(n), text: raw}, j, ""
}

func parseBigFloat(digits string, base int) (float64, bool) {
	f := 0.0
	for _, c := range digits {
		d, err := strconv.ParseUint(string(c), base, 8)
		if err != nil {
			return 0, false
		}
		f = f*float64(base) + float64(d)
	}
	return f, true
}

// lexSingle reads '...' where only \' and \\ are escapes.
func lexSingle(s string) (string, int, bool) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			if i+1 < len(s) && (s[i+1] == '\'' || s[i+1] == '\\') {
				b.WriteByte(s[i+1])
				i++
				continue
			}
			b.WriteByte('\\')
		case '\'':
			return b.String(), i + 1, true
		default:
			b.WriteByte(s[i])
		}
	}
	return "", 0, false
}

// lexDouble reads "..." with PHP's escapes and simple interpolation.
func lexDouble(s string) (token, int, string) {
	end := -1
	for i := 1; i < len(s); i++ {
		if s[i] == '\\' {
			i++
			continue
		}
		if s[i] == '"' {
			end = i
			break
		}
	}
	if end < 0 {
		return token{}, 0, "unterminated string"
	}
	parts := interpolate(s[1:end], '"')
	return templateToken(parts), end + 1, ""
}

func templateToken(parts []strPart) token {
	if len(parts) == 0 {
		return token{kind: tString}
	}
	if len(parts) == 1 && !parts[0].isVar && parts[0].bad == "" {
		return token{kind: tString, text: parts[0].lit}
	}
	return token{kind: tTemplate, parts: parts}
}

// interpolate splits a double-quoted/heredoc body into literal text (escapes
// decoded) and variable references.
func interpolate(body string, quote byte) []strPart {
	var parts []strPart
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			parts = append(parts, strPart{lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(body); i++ {
		c := body[i]
		switch {
		case c == '\\' && i+1 < len(body):
			n, adv := decodeEscape(body[i+1:], quote)
			lit.WriteString(n)
			i += adv
		case c == '$' && i+1 < len(body) && isIdentStart(body[i+1]):
			j := i + 1
			for j < len(body) && isIdentChar(body[j]) {
				j++
			}
			p := strPart{isVar: true, varName: body[i+1 : j]}
			if j < len(body) && body[j] == '[' {
				k := strings.IndexByte(body[j:], ']')
				if k > 0 {
					key := strings.Trim(body[j+1:j+k], "'")
					p.keyLit = &key
					j += k + 1
				}
			} else if strings.HasPrefix(body[j:], "->") && j+2 < len(body) && isIdentStart(body[j+2]) {
				p.bad = "property access in string"
			}
			flush()
			parts = append(parts, p)
			i = j - 1
		case c == '{' && i+1 < len(body) && body[i+1] == '$':
			k := strings.IndexByte(body[i:], '}')
			if k < 0 {
				lit.WriteByte(c)
				continue
			}
			inner := body[i+2 : i+k]
			p := strPart{isVar: true}
			j := 0
			for j < len(inner) && isIdentChar(inner[j]) {
				j++
			}
			p.varName = inner[:j]
			rest := inner[j:]
			if rest != "" {
				if len(rest) > 2 && rest[0] == '[' && rest[len(rest)-1] == ']' &&
					(rest[1] == '\'' || rest[1] == '"') && rest[len(rest)-2] == rest[1] {
					key := rest[2 : len(rest)-2]
					p.keyLit = &key
				} else {
					p.bad = "complex expression in string {$" + inner + "}"
				}
			}
			flush()
			parts = append(parts, p)
			i += k
		default:
			lit.WriteByte(c)
		}
	}
	flush()
	return parts
}

// decodeEscape decodes the escape after a backslash: returns the text and
// how many bytes after the backslash were consumed.
func decodeEscape(s string, quote byte) (string, int) {
	switch s[0] {
	case 'n':
		return "\n", 1
	case 't':
		return "\t", 1
	case 'r':
		return "\r", 1
	case 'v':
		return "\v", 1
	case 'e':
		return "\x1b", 1
	case 'f':
		return "\f", 1
	case '\\':
		return "\\", 1
	case '$':
		return "$", 1
	case '"':
		if quote == '"' {
			return "\"", 1
		}
		return "\\\"", 1
	case 'x':
		j := 1
		for j < len(s) && j < 3 && isHex(s[j]) {
			j++
		}
		if j == 1 {
			return "\\x", 1
		}
		n, _ := strconv.ParseUint(s[1:j], 16, 8)
		return string([]byte{byte(n)}), j
	case 'u':
		if len(s) > 2 && s[1] == '{' {
			k := strings.IndexByte(s, '}')
			if k > 2 {
				n, err := strconv.ParseUint(s[2:k], 16, 32)
				if err == nil && n <= 0x10FFFF {
					return string(rune(n)), k + 1
				}
			}
		}
		return "\\u", 1
	}
	if s[0] >= '0' && s[0] <= '7' {
		j := 0
		for j < len(s) && j < 3 && s[j] >= '0' && s[j] <= '7' {
			j++
		}
		n, _ := strconv.ParseUint(s[:j], 8, 16)
		return string([]byte{byte(n)}), j
	}
	return "\\" + s[:1], 1
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// lexHeredoc reads <<<ID ... ID and <<<'ID' ... ID (nowdoc), with PHP 7.3's
// flexible closing-marker indentation.
func lexHeredoc(s string) (token, int, string) {
	nl := strings.IndexByte(s, '\n')
	if nl < 0 {
		return token{}, 0, "unterminated heredoc"
	}
	label := strings.TrimSpace(s[3:nl])
	nowdoc := false
	if strings.HasPrefix(label, "'") && strings.HasSuffix(label, "'") && len(label) > 2 {
		nowdoc = true
		label = label[1 : len(label)-1]
	} else {
		label = strings.Trim(label, "\"")
	}
	if label == "" {
		return token{}, 0, "invalid heredoc label"
	}
	lines := strings.SplitAfter(s[nl+1:], "\n")
	consumed := nl + 1
	var body []string
	for _, ln := range lines {
		trimmed := strings.TrimLeft(ln, " \t")
		if strings.HasPrefix(trimmed, label) && (len(trimmed) == len(label) || !isIdentChar(trimmed[len(label)])) {
			indent := len(ln) - len(trimmed)
			for i, b := range body {
				if len(b) >= indent {
					body[i] = b[indent:]
				}
			}
			text := strings.TrimSuffix(strings.Join(body, ""), "\n")
			consumed += indent + len(label)
			if nowdoc {
				return token{kind: tString, text: text}, consumed, ""
			}
			return templateToken(interpolate(text, 0)), consumed, ""
		}
		body = append(body, ln)
		consumed += len(ln)
	}
	return token{}, 0, "unterminated heredoc"
}
