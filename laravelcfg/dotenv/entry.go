package dotenv

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/reverb-go/reverb/laravelcfg/php"
)

// parseEntry is pass 2 for one raw entry (phpdotenv's EntryParser): split at
// the first '=', validate the name, run the value through the token state
// machine.
func parseEntry(file string, raw rawEntry, d dialect) (Entry, *Error) {
	fail := func(cause, subject string) (Entry, *Error) {
		return Entry{}, newError(file, raw.line, raw.text, cause, subject)
	}
	name, value, hasValue := strings.Cut(raw.text, "=")
	if hasValue {
		// Only a line with '=' is trimmed: an indented "  FOO" (an unset
		// line) keeps its blanks and is then an invalid name, as in PHP.
		name, value = php.Trim(name), php.Trim(value)
		if name == "" {
			return fail(causeEquals, raw.text)
		}
	}
	name, ok := parseName(name, d)
	if !ok {
		return fail(causeName, name)
	}
	e := Entry{Name: name, Line: raw.line, Unset: !hasValue}
	if !hasValue {
		return e, nil
	}
	chars, vars, cause := parseValue(value)
	if cause != "" {
		return fail(cause, value)
	}
	e.Value, e.Vars = chars, vars
	return e, nil
}

// parseName strips the "export " prefix and optional matching quotes, then
// validates. The export prefix is only recognised when the whole name is
// longer than 8 characters: phpdotenv's quirk that makes `export A=1` an
// invalid name [export A] while `export FOO=1` defines FOO. It returns the
// name to report in either case.
func parseName(name string, d dialect) (string, bool) {
	if utf8.RuneCountInString(name) > 8 && strings.HasPrefix(name, "export") && isCtypeSpace(name[6]) {
		// phpdotenv 5.6.4 trims exactly these after "export" (earlier
		// versions used PHP's default set, which has NUL but not \f).
		cutset := " \t\n\r\v\f"
		if d.v54 {
			cutset = php.TrimChars
		}
		name = strings.TrimLeft(name[6:], cutset)
	}
	if utf8.RuneCountInString(name) >= 3 {
		first, last := name[0], name[len(name)-1]
		if (first == '"' || first == '\'') && first == last {
			name = name[1 : len(name)-1]
		}
	}
	if d.v54 {
		return name, validASCIIName(name)
	}
	return name, validName(name)
}

// validASCIIName is phpdotenv 5.4's rule: [A-Za-z0-9_.]+.
func validASCIIName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; !isRefNameByte(c) {
			return false
		}
	}
	return true
}

// validName follows phpdotenv 5.6, which Laravel 11+ requires: letters
// (upper- and lower-case only, as its \p{Lu}\p{Ll} class), marks, numbers,
// '_' and '.'. phpdotenv 5.4 (Laravel 10's minimum) accepts only
// [A-Za-z0-9_.]; the two agree on every ASCII name.
func validName(name string) bool {
	if name == "" {
		return false
	}
	for _, r := range name {
		switch {
		case r == '_' || r == '.':
		case r < utf8.RuneSelf:
			if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9') {
				return false
			}
		case r == utf8.RuneError:
			return false
		case unicode.In(r, unicode.Lu, unicode.Ll, unicode.M, unicode.N):
		default:
			return false
		}
	}
	return true
}

// isCtypeSpace is PHP's ctype_space for one byte in the C locale.
func isCtypeSpace(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\v', '\f', '\r':
		return true
	}
	return false
}

// Value lexer token kinds (phpdotenv's Lexer patterns, in order).
type tokenKind uint8

const (
	tokNewlines  tokenKind = iota // [\r\n]+
	tokSpaces                     // [ \t\v\f]+
	tokBackslash                  // \
	tokSingle                     // '
	tokDouble                     // "
	tokHash                       // #
	tokDollar                     // $
	tokOther                      // a run of anything else
)

func classify(c byte) tokenKind {
	switch c {
	case '\r', '\n':
		return tokNewlines
	case ' ', '\t', '\v', '\f':
		return tokSpaces
	case '\\':
		return tokBackslash
	case '\'':
		return tokSingle
	case '"':
		return tokDouble
	case '#':
		return tokHash
	case '$':
		return tokDollar
	}
	return tokOther
}

// nextToken returns the kind and byte length of the token at s[0:]. Runs are
// not capped at 1000 bytes as in PHP's lexer: splitting a run never changes
// the state machine's output, because only the first token after a
// backslash is inspected and every other state treats a run's pieces alike.
func nextToken(s string) (tokenKind, int) {
	k := classify(s[0])
	switch k {
	case tokNewlines, tokSpaces, tokOther:
		n := 1
		for n < len(s) && classify(s[n]) == k {
			n++
		}
		return k, n
	}
	return k, 1
}

// Value parser states (phpdotenv's EntryParser).
type valueState uint8

const (
	stInitial valueState = iota
	stUnquoted
	stSingle
	stDouble
	stEscape
	stWhitespace
	stComment
)

// parseValue runs the token state machine over a trimmed value. It returns
// the value's characters and the byte offsets of every '$' that may start a
// ${NAME} reference (unescaped, outside single quotes), or phpdotenv's cause
// of failure.
func parseValue(value string) (chars string, vars []int, cause string) {
	if value == "" {
		return "", nil, ""
	}
	var out strings.Builder
	state := stInitial
	for rest := value; rest != ""; {
		kind, n := nextToken(rest)
		tok := rest[:n]
		rest = rest[n:]
		switch state {
		case stInitial, stUnquoted:
			switch {
			case kind == tokSingle && state == stInitial:
				state = stSingle
			case kind == tokDouble && state == stInitial:
				state = stDouble
			case kind == tokHash:
				state = stComment
			case state == stUnquoted && (kind == tokSpaces || kind == tokNewlines):
				state = stWhitespace
			default:
				if kind == tokDollar {
					vars = append(vars, out.Len())
				}
				out.WriteString(tok)
				state = stUnquoted
			}
		case stSingle:
			if kind == tokSingle {
				state = stWhitespace
			} else {
				out.WriteString(tok)
			}
		case stDouble:
			switch kind {
			case tokDouble:
				state = stWhitespace
			case tokBackslash:
				state = stEscape
			case tokDollar:
				vars = append(vars, out.Len())
				out.WriteString(tok)
			default:
				out.WriteString(tok)
			}
		case stEscape:
			switch kind {
			case tokDouble, tokBackslash, tokDollar:
				// \$ is written without marking a reference: that is how
				// an escaped ${NAME} stays literal.
				out.WriteString(tok)
			default:
				// The escape consumes only the first letter of the run
				// that follows the backslash: "\nabc" is LF + "abc".
				c, ok := controlEscape(tok[0])
				if !ok {
					return "", nil, causeEscape
				}
				out.WriteByte(c)
				out.WriteString(tok[1:])
			}
			state = stDouble
		case stWhitespace:
			switch kind {
			case tokHash:
				state = stComment
			case tokSpaces, tokNewlines:
			default:
				return "", nil, causeWhitespace
			}
		case stComment:
			rest = "" // everything after '#' is ignored
		}
	}
	switch state {
	case stSingle, stDouble, stEscape:
		return "", nil, causeQuote
	}
	return out.String(), vars, ""
}

// controlEscape maps the letter after a backslash inside double quotes to
// its control character (PHP's stripcslashes for \f \n \r \t \v).
func controlEscape(c byte) (byte, bool) {
	switch c {
	case 'f':
		return '\f', true
	case 'n':
		return '\n', true
	case 'r':
		return '\r', true
	case 't':
		return '\t', true
	case 'v':
		return '\v', true
	}
	return 0, false
}
