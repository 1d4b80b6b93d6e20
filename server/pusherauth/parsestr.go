package pusherauth

import (
	"strings"

	"github.com/reverb-go/reverb/laravelcfg/php"
)

// PHP's defaults for the input limits parse_str applies.
const (
	maxInputVars         = 1000
	maxInputNestingLevel = 64
)

// Params is the result of PHP parse_str: an ordered PHP array whose values
// are strings or nested arrays.
type Params struct {
	Keys   []ParamKey
	Values []ParamValue
	index  map[ParamKey]int
	// next is the key "$a[] = v" uses; hasInt tells whether any int key was
	// stored yet (PHP ≥ 8.3: the first negative key n makes next n+1).
	next   int64
	hasInt bool
	// Truncated is set on the top level when the query had more than
	// max_input_vars (1000) variables: PHP stops there with a warning,
	// which Laravel turns into an exception (Reverb answers 500).
	Truncated bool
}

// ParamKey is a PHP array key: an int when the name was a canonical decimal
// integer, otherwise a string (php.StringKey's rule).
type ParamKey = php.Key

// ParamValue is a string or (when Array is non-nil) a nested array.
type ParamValue struct {
	S     string
	Array *Params
}

// Len is the number of top-level entries.
func (p *Params) Len() int { return len(p.Keys) }

// Get returns the value stored under name (PHP key normalisation applied).
func (p *Params) Get(name string) (ParamValue, bool) {
	if p == nil || p.index == nil {
		return ParamValue{}, false
	}
	i, ok := p.index[keyOf(name)]
	if !ok {
		return ParamValue{}, false
	}
	return p.Values[i], true
}

// GetString returns the value under name when it is a string.
func (p *Params) GetString(name string) (string, bool) {
	v, ok := p.Get(name)
	if !ok || v.Array != nil {
		return "", false
	}
	return v.S, true
}

func (p *Params) lookup(k ParamKey) (int, bool) {
	if p.index == nil {
		return 0, false
	}
	i, ok := p.index[k]
	return i, ok
}

func (p *Params) set(k ParamKey, v ParamValue) int {
	if p.index == nil {
		p.index = map[ParamKey]int{}
	}
	if i, ok := p.index[k]; ok {
		p.Values[i] = v
		return i
	}
	i := len(p.Keys)
	p.index[k] = i
	p.Keys = append(p.Keys, k)
	p.Values = append(p.Values, v)
	if k.IsInt && (!p.hasInt || k.I >= p.next) {
		if k.I < 1<<63-1 {
			p.next = k.I + 1
		}
		p.hasInt = true
	}
	return i
}

// appendValue is "$a[] = v"; it fails silently like PHP when the next key
// would overflow.
func (p *Params) appendValue(v ParamValue) (int, bool) {
	if p.hasInt && p.next == 1<<63-1 {
		if _, taken := p.lookup(ParamKey{IsInt: true, I: p.next}); taken {
			return 0, false
		}
	}
	return p.set(ParamKey{IsInt: true, I: p.next}, v), true
}

func (p *Params) remove(k ParamKey) {
	i, ok := p.lookup(k)
	if !ok {
		return
	}
	p.Keys = append(p.Keys[:i:i], p.Keys[i+1:]...)
	p.Values = append(p.Values[:i:i], p.Values[i+1:]...)
	delete(p.index, k)
	for j := i; j < len(p.Keys); j++ {
		p.index[p.Keys[j]] = j
	}
}

// keyOf converts a string key the way PHP's symbol tables do: a canonical
// decimal integer ("12", "-3", not "012", "+1" or "-0") becomes an int key.
func keyOf(s string) ParamKey { return php.StringKey(s) }

// ParseStr is PHP's parse_str($query, $result): pairs split at '&' (empty
// pairs skipped), names and values URL-decoded ('+' is a space), a name cut
// at its first NUL byte, leading spaces of a name dropped, ' ' and '.' in
// the base name turned into '_', "name[a][]" building nested arrays (at most
// 64 levels), later duplicates overwriting earlier ones in place, and at most
// 1000 variables (PHP's max_input_vars).
func ParseStr(query string) *Params {
	p := &Params{}
	count := 0
	for query != "" {
		var pair string
		pair, query, _ = strings.Cut(query, "&")
		if pair == "" {
			continue
		}
		count++
		if count > maxInputVars {
			p.Truncated = true
			break
		}
		name, value, _ := strings.Cut(pair, "=")
		name = php.URLDecode(name)
		if i := strings.IndexByte(name, 0); i >= 0 {
			name = name[:i]
		}
		register(p, name, php.URLDecode(value))
	}
	return p
}

// register is php_register_variable_ex for one decoded name and value.
func register(p *Params, name, value string) {
	name = strings.TrimLeft(name, " ")
	b := []byte(name)
	base := len(b)
	for i, c := range b {
		if c == ' ' || c == '.' {
			b[i] = '_'
		} else if c == '[' {
			base = i
			break
		}
	}
	if base == 0 {
		return // empty name
	}
	table := p
	index, hasIndex := string(b[:base]), true
	if base == len(b) {
		table.set(keyOf(index), ParamValue{S: value})
		return
	}
	rest := b[base:] // starts with '['
	for level := 1; ; level++ {
		if level > maxInputNestingLevel {
			// PHP deletes the whole top-level variable.
			p.remove(keyOf(string(b[:base])))
			return
		}
		// rest[0] is '['.
		var next string
		nextHas := true
		if len(rest) > 1 && rest[1] == ']' {
			nextHas = false
			rest = rest[2:]
		} else {
			end := strings.IndexByte(string(rest[1:]), ']')
			if end < 0 {
				// Not an index: the '[' becomes '_' and so do later
				// ' ', '.' and '['; the whole thing is a plain name.
				tail := rest[1:]
				for i, c := range tail {
					if c == ' ' || c == '.' || c == '[' {
						tail[i] = '_'
					}
				}
				if level == 1 {
					index = index + "_" + string(tail)
				}
				// At deeper levels PHP keeps index (the previous key)
				// as is: only the first unterminated '[' can rename.
				store(table, index, hasIndex, value)
				return
			}
			next = string(rest[1 : 1+end])
			rest = rest[1+end+1:]
		}
		// Descend into table[index], creating or replacing it by an array.
		var child *Params
		if !hasIndex {
			child = &Params{}
			if _, ok := table.appendValue(ParamValue{Array: child}); !ok {
				return
			}
		} else {
			k := keyOf(index)
			if i, ok := table.lookup(k); ok && table.Values[i].Array != nil {
				child = table.Values[i].Array
			} else {
				child = &Params{}
				table.set(k, ParamValue{Array: child})
			}
		}
		table, index, hasIndex = child, next, nextHas
		if len(rest) == 0 || rest[0] != '[' {
			store(table, index, hasIndex, value)
			return
		}
	}
}

func store(table *Params, index string, hasIndex bool, value string) {
	if !hasIndex {
		table.appendValue(ParamValue{S: value})
		return
	}
	table.set(keyOf(index), ParamValue{S: value})
}

// isHex reports whether c is an ASCII hex digit.
func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }
