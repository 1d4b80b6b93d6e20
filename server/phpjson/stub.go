package phpjson

import (
	"errors"

	"github.com/reverb-go/reverb/laravelcfg/php"
)

// MaxDepth is json_decode's default depth limit: arrays/objects nested
// deeper than this are a "Maximum stack depth exceeded" error.
const MaxDepth = 512

// Decode is PHP json_decode($data, true, 512) with error checking: objects
// become ordered PHP arrays with PHP key normalisation ("1" → int 1, later
// duplicates overwrite in place), integers outside int64 become floats,
// invalid JSON or invalid UTF-8 is an error naming the byte offset.
func Decode(data []byte) (php.Value, error) { return php.Value{}, errors.New("TODO") }

// Append appends PHP json_encode($v) (default flags) to dst. Arrays whose
// keys are 0..n-1 in order become JSON lists, others objects; an empty array
// is "[]". Unknown values encode as null.
func Append(dst []byte, v php.Value) []byte { return dst }

// AppendString appends s as a PHP-JSON string literal (with quotes). Invalid
// UTF-8 bytes are replaced by U+FFFD (json_encode would fail; Reverb's inputs
// are always valid UTF-8 because they came through json_decode).
func AppendString(dst []byte, s string) []byte { return dst }

// AppendFloat appends f as PHP json_encode writes a float with
// serialize_precision -1.
func AppendFloat(dst []byte, f float64) []byte { return dst }

// AppendSymfony is Append with Symfony JsonResponse's flags: <, >, &, ' and
// " inside strings become \u003C, \u003E, \u0026, \u0027, \u0022.
func AppendSymfony(dst []byte, v php.Value) []byte { return dst }

// AppendSymfonyString is AppendString with Symfony JsonResponse's flags.
func AppendSymfonyString(dst []byte, s string) []byte { return dst }
