package phpeval

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/reverb-go/reverb/laravelcfg/php"
)

// json_encode flags.
const (
	jsonHexTag                  = int64(php.JSONHexTag)
	jsonHexAmp                  = int64(php.JSONHexAmp)
	jsonHexApos                 = int64(php.JSONHexApos)
	jsonHexQuot                 = int64(php.JSONHexQuot)
	jsonForceObject             = 16
	jsonUnescapedSlashes        = int64(php.JSONUnescapedSlashes)
	jsonPrettyPrint             = 128
	jsonUnescapedUnicode        = int64(php.JSONUnescapedUnicode)
	jsonPreserveZeroFraction    = 1024
	jsonUnescapedLineTerminator = int64(php.JSONUnescapedLineTerminators)
	jsonThrowOnError            = 4194304
	// jsonSupported are the flags fnJSONEncode implements; others
	// (JSON_NUMERIC_CHECK, JSON_PARTIAL_OUTPUT_ON_ERROR, the invalid UTF-8
	// handling ones) make the result a value that cannot be computed.
	jsonSupported = jsonHexTag | jsonHexAmp | jsonHexApos | jsonHexQuot | jsonForceObject | jsonUnescapedSlashes |
		jsonPrettyPrint | jsonUnescapedUnicode | jsonPreserveZeroFraction | jsonUnescapedLineTerminator | jsonThrowOnError
)

// fnJSONEncode is json_encode($value, $flags = 0, $depth = 512): false on
// an error (invalid UTF-8, INF/NAN, too deep), a JsonException with
// JSON_THROW_ON_ERROR.
func fnJSONEncode(in *interp, line int, a []php.Value) php.Value {
	if len(a) == 0 {
		return in.failed(line, "ArgumentCountError: json_encode() expects at least 1 argument, 0 given")
	}
	var flags int64
	if len(a) > 1 {
		f, ok := in.intArg(a[1])
		if !ok {
			return in.failed(line, "TypeError: json_encode(): Argument #2 ($flags) must be of type int, "+a[1].TypeName()+" given")
		}
		flags = f
	}
	depth := int64(512)
	if len(a) > 2 {
		d, ok := in.intArg(a[2])
		if !ok {
			return in.failed(line, "TypeError: json_encode(): Argument #3 ($depth) must be of type int, "+a[2].TypeName()+" given")
		}
		// PHP keeps it in a C int: a depth that is not positive there
		// fails every array.
		depth = int64(int32(d))
	}
	if flags&^jsonSupported != 0 {
		return in.unknown(line, fmt.Sprintf("json_encode() flags %d", flags&^jsonSupported))
	}
	e := &jsonEncoder{in: in, line: line, flags: flags, maxDepth: int(depth)}
	if err := e.encode(a[0], 0); err != nil {
		if u, ok := err.(unknownErr); ok {
			return u.v
		}
		if flags&jsonThrowOnError != 0 {
			return in.failed(line, "JsonException: "+err.Error())
		}
		return php.BoolValue(false)
	}
	in.checkString(line, len(e.b))
	return php.StringValue(string(e.b))
}

type jsonEncoder struct {
	in       *interp
	line     int
	flags    int64
	maxDepth int
	b        []byte
}

// jsonError is json_last_error_msg()'s text for a failure.
type jsonError string

func (e jsonError) Error() string { return string(e) }

type unknownErr struct{ v php.Value }

func (unknownErr) Error() string { return "unknown" }

func (e *jsonEncoder) encode(v php.Value, level int) error {
	e.in.checkString(e.line, len(e.b))
	switch v.Kind() {
	case php.Unknown:
		return unknownErr{v}
	case php.Null:
		e.b = append(e.b, "null"...)
	case php.Bool:
		e.b = strconv.AppendBool(e.b, v.BoolVal())
	case php.Int:
		e.b = strconv.AppendInt(e.b, v.IntVal(), 10)
	case php.Float:
		f := v.FloatVal()
		if math.IsInf(f, 0) || math.IsNaN(f) {
			return jsonError("Inf and NaN cannot be JSON encoded")
		}
		start := len(e.b)
		e.b = php.AppendJSONFloat(e.b, f)
		if e.flags&jsonPreserveZeroFraction != 0 && !strings.ContainsAny(string(e.b[start:]), ".e") {
			e.b = append(e.b, ".0"...)
		}
	case php.String:
		return e.str(v.StringVal())
	case php.Closure:
		e.b = append(e.b, "{}"...)
	case php.Array:
		if level >= e.maxDepth {
			return jsonError("Maximum stack depth exceeded")
		}
		arr := v.ArrayVal()
		e.in.cost(e.line, arr.Len()) // nested arrays are work too
		list := arr.IsList() && e.flags&jsonForceObject == 0
		open, closing := byte('{'), byte('}')
		if list {
			open, closing = '[', ']'
		}
		e.b = append(e.b, open)
		pretty := e.flags&jsonPrettyPrint != 0
		for i, k := range arr.Keys {
			if i > 0 {
				e.b = append(e.b, ',')
			}
			if pretty {
				e.b = append(e.b, '\n')
				e.b = append(e.b, strings.Repeat("    ", level+1)...)
			}
			if !list {
				if err := e.str(k.String()); err != nil {
					return err
				}
				e.b = append(e.b, ':')
				if pretty {
					e.b = append(e.b, ' ')
				}
			}
			if err := e.encode(arr.Values[i], level+1); err != nil {
				return err
			}
		}
		if pretty && arr.Len() > 0 {
			e.b = append(e.b, '\n')
			e.b = append(e.b, strings.Repeat("    ", level)...)
		}
		e.b = append(e.b, closing)
	}
	return nil
}

func (e *jsonEncoder) str(s string) error {
	if !utf8.ValidString(s) {
		return jsonError("Malformed UTF-8 characters, possibly incorrectly encoded")
	}
	e.in.checkString(e.line, len(e.b)+len(s))
	e.b = php.AppendJSONString(e.b, s, php.JSONFlags(e.flags))
	return nil
}
