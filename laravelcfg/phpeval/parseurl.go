package phpeval

import (
	"strings"

	"github.com/reverb-go/reverb/laravelcfg/php"
)

// urlComponents are parse_url's keys in the order PHP adds them, indexed by
// the PHP_URL_* constants.
var urlComponents = []string{"scheme", "host", "port", "user", "pass", "path", "query", "fragment"}

// ParseURL is PHP's parse_url($s): the components present, keyed and
// ordered as PHP returns them (port an int, the others strings with control
// characters replaced by "_"); ok is false where PHP returns false. It
// follows php_url_parse_ex2 step by step, including its odd corners
// ("host:80" has no scheme, "user@host:80" has a user, "a:b" is a scheme
// and a path), because Laravel code and config files feed it such strings.
func ParseURL(s string) (parts *php.OrderedArray, ok bool) {
	u := urlParser{str: s, found: map[string]string{}}
	if !u.parse() {
		return nil, false
	}
	out := php.NewArray()
	for _, k := range urlComponents {
		if k == "port" {
			if u.hasPort {
				out.Set(php.StringKey(k), php.IntValue(int64(u.port)))
			}
			continue
		}
		if v, ok := u.found[k]; ok {
			out.Set(php.StringKey(k), php.StringValue(replaceControlChars(v)))
		}
	}
	return out, true
}

// urlParser holds one parse_url run; positions are byte offsets into str.
type urlParser struct {
	str     string
	found   map[string]string
	port    int
	hasPort bool
}

func (u *urlParser) parse() bool {
	str, end := u.str, len(u.str)
	e := strings.IndexByte(str, ':')
	switch {
	case e > 0:
		for p := 0; p < e; p++ {
			if isSchemeChar(str[p]) {
				continue
			}
			// Not a scheme: "host:port" (the colon before any ? or #),
			// "//host...", or a path.
			switch {
			case e+1 < end && e < indexAny(str, 0, "?#"):
				return u.parsePort(0, e)
			case strings.HasPrefix(str, "//"):
				return u.parseHost(2)
			}
			u.justPath(0)
			return true
		}
		if e+1 == end { // "scheme:" and nothing else
			u.found["scheme"] = str[:e]
			return true
		}
		if str[e+1] != '/' {
			// "a.com:80" or "a.com:80/x" is a host and port; "mailto:x" a
			// scheme and a path.
			p := e + 1
			for p < end && isDigit(str[p]) {
				p++
			}
			if (p == end || str[p] == '/') && p-e < 7 {
				return u.parsePort(0, e)
			}
			u.found["scheme"] = str[:e]
			u.justPath(e + 1)
			return true
		}
		u.found["scheme"] = str[:e]
		if e+2 < end && str[e+2] == '/' {
			s := e + 3
			if strings.EqualFold(str[:e], "file") && e+3 < end && str[e+3] == '/' {
				if e+5 < end && str[e+5] == ':' { // file:///c:/dir (a drive letter)
					s = e + 4
				}
				u.justPath(s)
				return true
			}
			return u.parseHost(s)
		}
		u.justPath(e + 1)
		return true
	case e == 0:
		return u.parsePort(0, e)
	case strings.HasPrefix(str, "//"):
		return u.parseHost(2)
	}
	u.justPath(0)
	return true
}

// parsePort reads the port after the colon at e when what follows is 1 to 5
// digits up to the end or a "/", then parses the host from s.
func (u *urlParser) parsePort(s, e int) bool {
	str, end := u.str, len(u.str)
	p, pp := e+1, e+1
	for pp < end && pp-p < 6 && isDigit(str[pp]) {
		pp++
	}
	switch {
	case pp-p > 0 && pp-p < 6 && (pp == end || str[pp] == '/'):
		port, ok := cStrtol(str[p:pp])
		if !ok || port < 0 || port > 65535 {
			return false
		}
		u.port, u.hasPort = int(port), true
		if strings.HasPrefix(str[s:], "//") {
			s += 2
		}
	case p == pp && pp == end: // a trailing ":" and nothing after it
		return false
	case strings.HasPrefix(str[s:], "//"):
		s += 2
	default:
		u.justPath(s)
		return true
	}
	return u.parseHost(s)
}

// parseHost reads [user[:pass]@]host[:port] from s up to the first / ? or #,
// then the rest as path, query and fragment.
func (u *urlParser) parseHost(s int) bool {
	str, end := u.str, len(u.str)
	e := indexAny(str, s, "/?#")
	if at := strings.LastIndexByte(str[s:e], '@'); at >= 0 {
		p := s + at
		if c := strings.IndexByte(str[s:p], ':'); c >= 0 {
			u.found["user"] = str[s : s+c]
			u.found["pass"] = str[s+c+1 : p]
		} else {
			u.found["user"] = str[s:p]
		}
		s = p + 1
	}
	hostEnd := e
	// A bracketed IPv6 host has colons of its own: no port scan.
	if !(s < end && str[s] == '[' && str[e-1] == ']') {
		if c := strings.LastIndexByte(str[s:e], ':'); c >= 0 {
			hostEnd = s + c
			// PHP tests the port value, not whether one was read: a port
			// 0 from parsePort is read again here.
			if u.port == 0 {
				digits := str[hostEnd+1 : e]
				if len(digits) > 5 {
					return false
				}
				if digits != "" {
					port, ok := cStrtol(digits)
					if !ok || port < 0 || port > 65535 {
						return false
					}
					u.port, u.hasPort = int(port), true
				}
			}
		}
	}
	if hostEnd-s < 1 {
		return false
	}
	u.found["host"] = str[s:hostEnd]
	if e < end {
		u.justPath(e)
	}
	return true
}

// justPath splits str[s:] into path, query (after the first ?) and fragment
// (after the first #).
func (u *urlParser) justPath(s int) {
	str := u.str
	e := len(str)
	if i := strings.IndexByte(str[s:e], '#'); i >= 0 {
		u.found["fragment"] = str[s+i+1 : e]
		e = s + i
	}
	if i := strings.IndexByte(str[s:e], '?'); i >= 0 {
		u.found["query"] = str[s+i+1 : e]
		e = s + i
	}
	if s < e || s == len(str) {
		u.found["path"] = str[s:e]
	}
}

// indexAny is the position of the first byte of chars in str[from:], or
// len(str) when there is none (binary_strcspn).
func indexAny(str string, from int, chars string) int {
	if i := strings.IndexAny(str[from:], chars); i >= 0 {
		return from + i
	}
	return len(str)
}

// cStrtol is C's strtol(s, &end, 10) for the at most five characters a port
// can have: leading white space, a sign, digits; ok is false when no digit
// was read (end == s).
func cStrtol(s string) (int64, bool) {
	i := 0
	for i < len(s) && (s[i] == ' ' || s[i] >= '\t' && s[i] <= '\r') {
		i++
	}
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	start := i
	var n int64
	for i < len(s) && isDigit(s[i]) {
		n = n*10 + int64(s[i]-'0')
		i++
	}
	if i == start {
		return 0, false
	}
	if neg {
		n = -n
	}
	return n, true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// isSchemeChar is scheme = 1*[ alpha | digit | "+" | "-" | "." ].
func isSchemeChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || isDigit(c) || c == '+' || c == '-' || c == '.'
}

// replaceControlChars is php_replace_controlchars: parse_url turns control
// characters in every component into "_".
func replaceControlChars(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c < 0x20 || c == 0x7f {
			b[i] = '_'
		}
	}
	return string(b)
}

// fnParseURL is parse_url($url[, $component]) over ParseURL.
func fnParseURL(in *interp, line int, a []php.Value) php.Value {
	s, ok := in.strArg(a, 0)
	if !ok {
		return in.failed(line, "TypeError: parse_url(): Argument #1 ($url) must be of type string")
	}
	comp := int64(-1)
	if len(a) > 1 {
		comp = a[1].ToInt()
	}
	parts, ok := ParseURL(s)
	if !ok {
		return php.BoolValue(false)
	}
	if comp >= 0 {
		if comp >= int64(len(urlComponents)) {
			return in.failed(line, "ValueError: parse_url(): Argument #2 ($component) must be a valid URL component identifier")
		}
		v, _ := parts.GetString(urlComponents[comp])
		return v
	}
	return php.ArrayValue(parts)
}
