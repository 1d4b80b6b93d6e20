package phpjson

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"
	"sync"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/reverb-go/reverb/laravelcfg/php"
)

// MaxDepth is json_decode's default $depth. PHP counts the scalars inside
// the innermost array as one more level, so at most MaxDepth-1 arrays or
// objects may nest (511 decode, 512 fail, checked against php).
const MaxDepth = 512

// SyntaxError is a json_decode failure: PHP's error message and the byte
// offset where it was found.
type SyntaxError struct {
	Offset int
	Msg    string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("phpjson: %s at offset %d", e.Msg, e.Offset)
}

// ErrDepth is the "Maximum stack depth exceeded" failure.
var ErrDepth = errors.New("phpjson: Maximum stack depth exceeded")

// Decode is PHP json_decode($data, true, 512) with error checking: objects
// become ordered PHP arrays with PHP key normalisation ("1" → int 1, later
// duplicates overwrite in place), integers outside int64 become floats
// (1e400 becomes INF as in PHP), invalid JSON, invalid UTF-8, a lone UTF-16
// surrogate or more than 511 nested arrays/objects are errors.
func Decode(data []byte) (php.Value, error) {
	d := decoder{data: data, build: true}
	room := memberRooms.Get().(*[]member)
	d.members = (*room)[:0]
	v, err := d.document()
	if cap(d.members) <= maxPooledMembers {
		clear(d.members) // what an error left behind
		*room = d.members[:0]
		memberRooms.Put(room)
	}
	if err != nil {
		return php.Value{}, err
	}
	return v, nil
}

// Valid reports whether Decode would succeed, without building the value.
func Valid(data []byte) bool {
	d := decoder{data: data}
	_, err := d.document()
	return err == nil
}

type decoder struct {
	data  []byte
	pos   int
	depth int
	build bool
	// scratch collects unescaped string bytes; reused across strings.
	scratch []byte
	// members holds the entries of the arrays being decoded, innermost
	// last, so each array is made once at its size (collect).
	members []member
}

// memberRooms keeps the decoders' member stacks between calls; one that
// grew past maxPooledMembers (a large document) is left to the collector.
var memberRooms = sync.Pool{New: func() any { s := make([]member, 0, 16); return &s }}

const maxPooledMembers = 1024

// member is one entry of an array being decoded.
type member struct {
	k   php.Key
	v   php.Value
	key bool // k was given (an object's); otherwise the entry is appended
}

// collect makes the array of the entries from start on and drops them
// from members.
func (d *decoder) collect(start int) *php.OrderedArray {
	arr := php.NewArraySized(len(d.members) - start)
	for _, m := range d.members[start:] {
		if m.key {
			arr.Set(m.k, m.v)
		} else {
			arr.Append(m.v)
		}
	}
	clear(d.members[start:])
	d.members = d.members[:start]
	return arr
}

func (d *decoder) fail(msg string) error { return &SyntaxError{Offset: d.pos, Msg: msg} }

func (d *decoder) document() (php.Value, error) {
	d.skipSpace()
	v, err := d.value()
	if err != nil {
		return v, err
	}
	d.skipSpace()
	if d.pos != len(d.data) {
		return v, d.fail("Syntax error")
	}
	return v, nil
}

func (d *decoder) skipSpace() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

func (d *decoder) literal(word string, v php.Value) (php.Value, error) {
	if len(d.data)-d.pos < len(word) || string(d.data[d.pos:d.pos+len(word)]) != word {
		return php.Value{}, d.fail("Syntax error")
	}
	d.pos += len(word)
	return v, nil
}

func (d *decoder) value() (php.Value, error) {
	if d.pos >= len(d.data) {
		return php.Value{}, d.fail("Syntax error")
	}
	switch c := d.data[d.pos]; {
	case c == '{':
		return d.object()
	case c == '[':
		return d.array()
	case c == '"':
		s, err := d.str()
		if err != nil {
			return php.Value{}, err
		}
		return php.StringValue(s), nil
	case c == 't':
		return d.literal("true", php.BoolValue(true))
	case c == 'f':
		return d.literal("false", php.BoolValue(false))
	case c == 'n':
		return d.literal("null", php.NullValue())
	case c == '-' || c >= '0' && c <= '9':
		return d.number()
	}
	return php.Value{}, d.fail("Syntax error")
}

func (d *decoder) enter() error {
	d.depth++
	if d.depth >= MaxDepth {
		return ErrDepth
	}
	return nil
}

func (d *decoder) array() (php.Value, error) {
	if err := d.enter(); err != nil {
		return php.Value{}, err
	}
	d.pos++ // '['
	start := len(d.members)
	d.skipSpace()
	if d.pos < len(d.data) && d.data[d.pos] == ']' {
		d.pos++
		d.depth--
		return d.made(start), nil
	}
	for {
		d.skipSpace()
		v, err := d.value()
		if err != nil {
			return php.Value{}, err
		}
		if d.build {
			d.members = append(d.members, member{v: v})
		}
		d.skipSpace()
		if d.pos >= len(d.data) {
			return php.Value{}, d.fail("Syntax error")
		}
		switch d.data[d.pos] {
		case ',':
			d.pos++
		case ']':
			d.pos++
			d.depth--
			return d.made(start), nil
		default:
			return php.Value{}, d.fail("Syntax error")
		}
	}
}

func (d *decoder) object() (php.Value, error) {
	if err := d.enter(); err != nil {
		return php.Value{}, err
	}
	d.pos++ // '{'
	start := len(d.members)
	d.skipSpace()
	if d.pos < len(d.data) && d.data[d.pos] == '}' {
		d.pos++
		d.depth--
		return d.made(start), nil
	}
	for {
		d.skipSpace()
		if d.pos >= len(d.data) || d.data[d.pos] != '"' {
			return php.Value{}, d.fail("Syntax error")
		}
		k, err := d.key()
		if err != nil {
			return php.Value{}, err
		}
		d.skipSpace()
		if d.pos >= len(d.data) || d.data[d.pos] != ':' {
			return php.Value{}, d.fail("Syntax error")
		}
		d.pos++
		d.skipSpace()
		v, err := d.value()
		if err != nil {
			return php.Value{}, err
		}
		if d.build {
			d.members = append(d.members, member{k: php.StringKey(k), v: v, key: true})
		}
		d.skipSpace()
		if d.pos >= len(d.data) {
			return php.Value{}, d.fail("Syntax error")
		}
		switch d.data[d.pos] {
		case ',':
			d.pos++
		case '}':
			d.pos++
			d.depth--
			return d.made(start), nil
		default:
			return php.Value{}, d.fail("Syntax error")
		}
	}
}

// made is the array value of the entries from start on (null when only
// validating).
func (d *decoder) made(start int) php.Value {
	if !d.build {
		return php.Value{}
	}
	return php.ArrayValue(d.collect(start))
}

// number scans a JSON number. Integers that fit int64 stay ints (PHP's
// scanner compares the digits against 9223372036854775808); others and
// numbers with a fraction or exponent are floats.
func (d *decoder) number() (php.Value, error) {
	start := d.pos
	p := d.pos
	if d.data[p] == '-' {
		p++
	}
	if p >= len(d.data) {
		return php.Value{}, d.fail("Syntax error")
	}
	switch {
	case d.data[p] == '0':
		p++
	case d.data[p] >= '1' && d.data[p] <= '9':
		for p < len(d.data) && d.data[p] >= '0' && d.data[p] <= '9' {
			p++
		}
	default:
		d.pos = p
		return php.Value{}, d.fail("Syntax error")
	}
	isInt := true
	if p < len(d.data) && d.data[p] == '.' {
		p++
		if p >= len(d.data) || d.data[p] < '0' || d.data[p] > '9' {
			d.pos = p
			return php.Value{}, d.fail("Syntax error")
		}
		for p < len(d.data) && d.data[p] >= '0' && d.data[p] <= '9' {
			p++
		}
		isInt = false
	}
	if p < len(d.data) && (d.data[p] == 'e' || d.data[p] == 'E') {
		p++
		if p < len(d.data) && (d.data[p] == '+' || d.data[p] == '-') {
			p++
		}
		if p >= len(d.data) || d.data[p] < '0' || d.data[p] > '9' {
			d.pos = p
			return php.Value{}, d.fail("Syntax error")
		}
		for p < len(d.data) && d.data[p] >= '0' && d.data[p] <= '9' {
			p++
		}
		isInt = false
	}
	d.pos = p
	if !d.build {
		return php.Value{}, nil
	}
	tok := string(d.data[start:p])
	if isInt {
		if n, err := strconv.ParseInt(tok, 10, 64); err == nil {
			return php.IntValue(n), nil
		}
	}
	f, err := strconv.ParseFloat(tok, 64)
	if err != nil && !math.IsInf(f, 0) {
		return php.Value{}, d.fail("Syntax error")
	}
	return php.FloatValue(f), nil
}

// key scans an object key: the keys of Pusher protocol messages come back
// as constants, so decoding a client message copies none of them.
func (d *decoder) key() (string, error) {
	if d.build {
		rest := d.data[d.pos+1:]
		// A known key has no escapes, so its closing quote is the first.
		if i := bytes.IndexByte(rest[:min(len(rest), longestProtocolKey+1)], '"'); i >= 0 {
			if k, ok := protocolKey(rest[:i]); ok {
				d.pos += i + 2 // both quotes
				return k, nil
			}
		}
	}
	return d.str()
}

// longestProtocolKey is the length of the longest key protocolKey knows.
const longestProtocolKey = len("channel_data")

// protocolKey returns the constant for a known key (string(b) in a switch
// does not allocate).
func protocolKey(b []byte) (string, bool) {
	switch string(b) {
	case "event":
		return "event", true
	case "data":
		return "data", true
	case "channel":
		return "channel", true
	case "auth":
		return "auth", true
	case "channel_data":
		return "channel_data", true
	case "user_id":
		return "user_id", true
	case "user_info":
		return "user_info", true
	}
	return "", false
}

// str scans a string starting at '"' and returns its unescaped value.
func (d *decoder) str() (string, error) {
	d.pos++ // opening quote
	start := d.pos
	// Fast path: no escapes, ASCII or valid UTF-8.
	for d.pos < len(d.data) {
		c := d.data[d.pos]
		if c == '"' {
			s := d.data[start:d.pos]
			d.pos++
			if !utf8.Valid(s) {
				return "", &SyntaxError{Offset: start, Msg: "Malformed UTF-8 characters, possibly incorrectly encoded"}
			}
			if !d.build {
				return "", nil
			}
			return string(s), nil
		}
		if c == '\\' || c < 0x20 {
			break
		}
		d.pos++
	}
	buf := append(d.scratch[:0], d.data[start:d.pos]...)
	for {
		if d.pos >= len(d.data) {
			return "", d.fail("Syntax error")
		}
		c := d.data[d.pos]
		switch {
		case c == '"':
			d.pos++
			d.scratch = buf
			if !utf8.Valid(buf) {
				return "", &SyntaxError{Offset: start, Msg: "Malformed UTF-8 characters, possibly incorrectly encoded"}
			}
			return string(buf), nil
		case c < 0x20:
			return "", d.fail("Control character error, possibly incorrectly encoded")
		case c != '\\':
			buf = append(buf, c)
			d.pos++
			continue
		}
		// Escape sequence.
		if d.pos+1 >= len(d.data) {
			d.pos++
			return "", d.fail("Syntax error")
		}
		e := d.data[d.pos+1]
		d.pos += 2
		switch e {
		case '"', '\\', '/':
			buf = append(buf, e)
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			r, ok := d.hex4()
			if !ok {
				return "", d.fail("Syntax error")
			}
			switch {
			case utf16.IsSurrogate(r) && r < 0xDC00:
				// A high surrogate must be followed by \u and a low one.
				if d.pos+1 < len(d.data) && d.data[d.pos] == '\\' && d.data[d.pos+1] == 'u' {
					save := d.pos
					d.pos += 2
					r2, ok := d.hex4()
					if ok && r2 >= 0xDC00 && r2 <= 0xDFFF {
						buf = utf8.AppendRune(buf, utf16.DecodeRune(r, r2))
						continue
					}
					d.pos = save
				}
				return "", d.fail("Single unpaired UTF-16 surrogate in unicode escape")
			case utf16.IsSurrogate(r):
				return "", d.fail("Single unpaired UTF-16 surrogate in unicode escape")
			}
			buf = utf8.AppendRune(buf, r)
		default:
			return "", d.fail("Syntax error")
		}
	}
}

func (d *decoder) hex4() (rune, bool) {
	if len(d.data)-d.pos < 4 {
		return 0, false
	}
	var r rune
	for _, c := range d.data[d.pos : d.pos+4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	d.pos += 4
	return r, true
}
