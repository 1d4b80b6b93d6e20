package phpeval

// sprintf(), as PHP formats.

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/reverb-go/reverb/laravelcfg/php"
)

func fnSprintf(in *interp, line int, a []php.Value) php.Value {
	format, ok := in.strArg(a, 0)
	if !ok {
		return in.failed(line, "TypeError: sprintf(): Argument #1 ($format) must be of type string")
	}
	var b strings.Builder
	next := 1
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		i++
		if i >= len(format) {
			return in.failed(line, "ValueError: Missing format specifier at end of string")
		}
		if format[i] == '%' {
			b.WriteByte('%')
			continue
		}
		// %[argnum$][flags][width][.precision]specifier
		j := i
		for j < len(format) && format[j] >= '0' && format[j] <= '9' {
			j++
		}
		argIdx := 0
		if j < len(format) && format[j] == '$' && j > i {
			n, _ := strconv.Atoi(format[i:j])
			argIdx = n
			i = j + 1
		}
		leftAlign, plus, pad := false, false, byte(' ')
		for i < len(format) {
			switch format[i] {
			case '-':
				leftAlign = true
			case '+':
				plus = true
			case '0':
				pad = '0'
			case ' ':
				pad = ' '
			case '\'':
				if i+1 < len(format) {
					i++
					pad = format[i]
				}
			default:
				goto width
			}
			i++
		}
	width:
		w := 0
		for i < len(format) && format[i] >= '0' && format[i] <= '9' {
			w = w*10 + int(format[i]-'0')
			if w > 1<<16 {
				return in.failed(line, "sprintf width too large")
			}
			i++
		}
		prec := -1
		if i < len(format) && format[i] == '.' {
			i++
			prec = 0
			for i < len(format) && format[i] >= '0' && format[i] <= '9' {
				prec = prec*10 + int(format[i]-'0')
				if prec > 100 {
					prec = 100
				}
				i++
			}
		}
		if i >= len(format) {
			return in.failed(line, "ValueError: Missing format specifier at end of string")
		}
		var v php.Value
		if argIdx > 0 {
			if argIdx >= len(a) {
				return in.failed(line, "ArgumentCountError: sprintf() too few arguments")
			}
			v = a[argIdx]
		} else {
			if next >= len(a) {
				return in.failed(line, fmt.Sprintf("ArgumentCountError: %d arguments are required, %d given", next+1, len(a)))
			}
			v = a[next]
			next++
		}
		var s string
		switch format[i] {
		case 's':
			s = v.ToString()
			if prec >= 0 && prec < len(s) {
				s = s[:prec]
			}
		case 'd', 'i':
			n := v.ToInt()
			s = strconv.FormatInt(n, 10)
			if plus && n >= 0 {
				s = "+" + s
			}
		case 'u':
			s = strconv.FormatUint(uint64(v.ToInt()), 10)
		case 'f', 'F', 'e', 'E':
			if prec < 0 {
				prec = 6
			}
			prec = min(prec, 53) // PHP's MAX_FLOAT_PRECISION
			f := v.ToFloat()
			if math.IsInf(f, 0) || math.IsNaN(f) {
				// PHP 8.2 prints these bare, ignoring width; with
				// zero padding a sign replaces the first letter ("-NF").
				str := "INF"
				if math.IsNaN(f) {
					str = "NaN"
				}
				if pad == '0' && !leftAlign && (f < 0 || plus) {
					sign := "+"
					if f < 0 {
						sign = "-"
					}
					str = sign + str[1:]
				}
				b.WriteString(str)
				continue
			}
			if f == 0 {
				f = 0 // PHP prints -0.0 as 0.0
			}
			if format[i] == 'e' || format[i] == 'E' {
				// 1.5e+3: the exponent without leading zeros.
				m, exp, _ := strings.Cut(strconv.FormatFloat(f, 'e', prec, 64), "e")
				sign, digits := exp[:1], strings.TrimLeft(exp[1:], "0")
				if digits == "" {
					digits = "0"
				}
				s = m + string(format[i]) + sign + digits
			} else {
				s = strconv.FormatFloat(f, 'f', prec, 64)
			}
			if plus && f >= 0 {
				s = "+" + s
			}
		case 'x':
			s = strconv.FormatUint(uint64(v.ToInt()), 16)
		case 'X':
			s = strings.ToUpper(strconv.FormatUint(uint64(v.ToInt()), 16))
		case 'o':
			s = strconv.FormatUint(uint64(v.ToInt()), 8)
		case 'b':
			s = strconv.FormatUint(uint64(v.ToInt()), 2)
		case 'c':
			s = string([]byte{byte(v.ToInt())})
		default:
			return in.failed(line, fmt.Sprintf("ValueError: Unknown format specifier %q", format[i]))
		}
		if len(s) < w {
			padding := strings.Repeat(string(pad), w-len(s))
			if leftAlign {
				if pad == '0' {
					padding = strings.Repeat(" ", w-len(s))
				}
				s += padding
			} else if pad == '0' && (strings.HasPrefix(s, "-") || strings.HasPrefix(s, "+")) {
				s = s[:1] + padding + s[1:]
			} else {
				s = padding + s
			}
		}
		b.WriteString(s)
		in.checkString(line, b.Len())
	}
	return php.StringValue(b.String())
}

// ---- parse_url ----
