package phpeval

// Type checks and conversions: is_*(), intval(), filter_var().

import (
	"strconv"
	"strings"

	"github.com/reverb-go/reverb/laravelcfg/php"
)

func typePred(f func(php.Value) bool) builtin {
	return func(in *interp, line int, a []php.Value) php.Value { return php.BoolValue(f(arg(a, 0))) }
}

func fnIntval(in *interp, line int, a []php.Value) php.Value {
	v := arg(a, 0)
	if len(a) > 1 && v.Kind() == php.String {
		b, ok := in.intArg(a[1])
		if !ok {
			return in.failed(line, "TypeError: intval(): Argument #2 ($base) must be of type int, "+a[1].TypeName()+" given")
		}
		if b != 10 && b >= 0 && b <= 36 {
			s := strings.TrimSpace(v.StringVal())
			neg := strings.HasPrefix(s, "-")
			s = strings.TrimLeft(s, "+-")
			low := strings.ToLower(s)
			if b == 16 {
				low = strings.TrimPrefix(low, "0x")
			} else if b == 8 {
				low = strings.TrimPrefix(low, "0o")
			} else if b == 2 {
				low = strings.TrimPrefix(low, "0b")
			} else if b == 0 {
				switch {
				case strings.HasPrefix(low, "0x"):
					b, low = 16, low[2:]
				case strings.HasPrefix(low, "0b"):
					b, low = 2, low[2:]
				case strings.HasPrefix(low, "0") && len(low) > 1:
					b, low = 8, low[1:]
				default:
					b = 10
				}
			}
			j := 0
			for j < len(low) {
				d, err := strconv.ParseInt(low[j:j+1], int(b), 64)
				if err != nil || d < 0 {
					break
				}
				j++
			}
			n, _ := strconv.ParseInt(low[:j], int(b), 64)
			if neg {
				n = -n
			}
			return php.IntValue(n)
		}
	}
	return php.IntValue(v.ToInt())
}

func fnFilterVar(in *interp, line int, a []php.Value) php.Value {
	v := arg(a, 0)
	filter := int64(filterDefault)
	if len(a) > 1 {
		filter = a[1].ToInt()
	}
	var flags int64
	if len(a) > 2 {
		if a[2].Kind() == php.Array {
			if f, ok := a[2].ArrayVal().GetString("flags"); ok {
				flags = f.ToInt()
			}
		} else {
			flags = a[2].ToInt()
		}
	}
	fail := php.BoolValue(false)
	if flags&filterNullOnFail != 0 {
		fail = php.NullValue()
	}
	if v.Kind() == php.Array {
		return fail
	}
	switch filter {
	case filterValidateBool:
		if v.Kind() == php.Bool {
			return v
		}
		switch strings.ToLower(strings.TrimSpace(v.ToString())) {
		case "1", "true", "on", "yes":
			return php.BoolValue(true)
		case "0", "false", "off", "no", "":
			if v.IsNull() || v.ToString() == "" {
				if flags&filterNullOnFail != 0 && !v.IsNull() {
					return php.BoolValue(false)
				}
			}
			return php.BoolValue(false)
		}
		return fail
	case filterValidateInt:
		s := strings.TrimSpace(v.ToString())
		if v.Kind() == php.Int {
			return v
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || (len(strings.TrimLeft(s, "+-")) > 1 && strings.TrimLeft(s, "+-")[0] == '0') {
			return fail
		}
		return php.IntValue(n)
	case filterDefault:
		return php.StringValue(v.ToString())
	}
	return in.unknown(line, "filter_var filter "+strconv.FormatInt(filter, 10))
}

// ---- sprintf ----
const (
	filterValidateInt  = 257
	filterValidateBool = 258
	filterDefault      = 516
	filterNullOnFail   = 0x8000000
)
