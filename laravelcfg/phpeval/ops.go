package phpeval

import (
	"math"

	"github.com/reverb-go/reverb/laravelcfg/php"
)

// binary applies a non-short-circuit binary operator with PHP 8 semantics.
func (in *interp) binary(line int, op string, l, r php.Value) php.Value {
	if l.IsUnknown() {
		return l
	}
	if r.IsUnknown() {
		return r
	}
	if l.Kind() == php.Array {
		in.cost(line, l.ArrayVal().Len())
	}
	if r.Kind() == php.Array {
		in.cost(line, r.ArrayVal().Len())
	}
	switch op {
	case ".":
		if l.Kind() == php.Closure || r.Kind() == php.Closure {
			return in.failed(line, "Object of class Closure could not be converted to string")
		}
		ls, rs := l.ToString(), r.ToString()
		in.checkString(line, len(ls)+len(rs))
		return php.StringValue(ls + rs)
	case "===":
		return php.BoolValue(php.StrictEquals(l, r))
	case "!==":
		return php.BoolValue(!php.StrictEquals(l, r))
	case "==":
		return php.BoolValue(php.LooseEquals(l, r))
	case "!=", "<>":
		return php.BoolValue(!php.LooseEquals(l, r))
	case "<", "<=", ">", ">=", "<=>":
		c, ok := php.Compare(l, r)
		switch op {
		case "<":
			return php.BoolValue(ok && c < 0)
		case "<=":
			return php.BoolValue(ok && c <= 0)
		case ">":
			return php.BoolValue(ok && c > 0)
		case ">=":
			return php.BoolValue(ok && c >= 0)
		}
		return php.IntValue(int64(c))
	case "xor":
		return php.BoolValue(l.ToBool() != r.ToBool())
	case "+":
		if l.Kind() == php.Array && r.Kind() == php.Array {
			// Array union: left keys win.
			out := l.ArrayVal().Copy()
			rb := r.ArrayVal()
			in.grow(line, rb.Len())
			for i, k := range rb.Keys {
				if _, ok := out.Get(k); !ok {
					out.Set(k, rb.Values[i])
				}
			}
			return php.ArrayValue(out)
		}
	}
	if (op == "|" || op == "&" || op == "^") && l.Kind() == php.String && r.Kind() == php.String {
		return php.StringValue(bytewise(op, l.StringVal(), r.StringVal()))
	}
	ln, lok := l.ToNumber()
	rn, rok := r.ToNumber()
	if l.Kind() == php.Array || r.Kind() == php.Array || l.Kind() == php.Closure || r.Kind() == php.Closure {
		return in.failed(line, "Unsupported operand types: "+l.TypeName()+" "+op+" "+r.TypeName())
	}
	if (!lok && !isLeadingNumeric(l)) || (!rok && !isLeadingNumeric(r)) {
		return in.failed(line, "Unsupported operand types: non-numeric string "+op)
	}
	switch op {
	case "+", "-", "*":
		if ln.Kind() == php.Int && rn.Kind() == php.Int {
			a, b := ln.IntVal(), rn.IntVal()
			var res int64
			overflow := false
			switch op {
			case "+":
				res = a + b
				overflow = (a > 0 && b > 0 && res < 0) || (a < 0 && b < 0 && res >= 0)
			case "-":
				res = a - b
				overflow = (a >= 0 && b < 0 && res < 0) || (a < 0 && b > 0 && res >= 0)
			case "*":
				res = a * b
				overflow = a != 0 && (res/a != b || (a == -1 && b == math.MinInt64) || (b == -1 && a == math.MinInt64))
			}
			if !overflow {
				return php.IntValue(res)
			}
		}
		a, b := ln.ToFloat(), rn.ToFloat()
		switch op {
		case "+":
			return php.FloatValue(a + b)
		case "-":
			return php.FloatValue(a - b)
		}
		return php.FloatValue(a * b)
	case "/":
		if rn.ToFloat() == 0 {
			return in.failed(line, "DivisionByZeroError: Division by zero")
		}
		if ln.Kind() == php.Int && rn.Kind() == php.Int && ln.IntVal()%rn.IntVal() == 0 &&
			!(ln.IntVal() == math.MinInt64 && rn.IntVal() == -1) {
			return php.IntValue(ln.IntVal() / rn.IntVal())
		}
		return php.FloatValue(ln.ToFloat() / rn.ToFloat())
	case "%":
		a, b := l.ToInt(), r.ToInt() // zval_get_long: strings saturate, floats wrap
		if b == 0 {
			return in.failed(line, "DivisionByZeroError: Modulo by zero")
		}
		if b == -1 {
			return php.IntValue(0)
		}
		return php.IntValue(a % b)
	case "**":
		if ln.Kind() == php.Int && rn.Kind() == php.Int && rn.IntVal() >= 0 {
			if res, ok := intPow(ln.IntVal(), rn.IntVal()); ok {
				return php.IntValue(res)
			}
		}
		return php.FloatValue(math.Pow(ln.ToFloat(), rn.ToFloat()))
	case "|", "&", "^", "<<", ">>":
		a, b := l.ToInt(), r.ToInt()
		switch op {
		case "|":
			return php.IntValue(a | b)
		case "&":
			return php.IntValue(a & b)
		case "^":
			return php.IntValue(a ^ b)
		case "<<":
			if b < 0 {
				return in.failed(line, "ArithmeticError: Bit shift by negative number")
			}
			if b >= 64 {
				return php.IntValue(0)
			}
			return php.IntValue(a << uint(b))
		case ">>":
			if b < 0 {
				return in.failed(line, "ArithmeticError: Bit shift by negative number")
			}
			if b >= 64 {
				if a < 0 {
					return php.IntValue(-1)
				}
				return php.IntValue(0)
			}
			return php.IntValue(a >> uint(b))
		}
	}
	return in.unknown(line, "operator "+op)
}

// isLeadingNumeric: "5 apples" is accepted by arithmetic with a warning in
// PHP 8; "apples" throws a TypeError.
func isLeadingNumeric(v php.Value) bool {
	if v.Kind() != php.String {
		return true
	}
	s := v.StringVal()
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f' {
			continue
		}
		if c == '+' || c == '-' {
			continue
		}
		return c >= '0' && c <= '9' || c == '.' && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9'
	}
	return false
}

// bytewise is PHP's |, & and ^ on two strings: byte by byte, | over the
// longer length, & and ^ over the shorter.
func bytewise(op, a, b string) string {
	if len(a) < len(b) {
		a, b = b, a
	}
	n := len(b)
	if op == "|" {
		n = len(a)
	}
	out := make([]byte, n)
	for i := range out {
		var y byte
		if i < len(b) {
			y = b[i]
		}
		switch op {
		case "|":
			out[i] = a[i] | y
		case "&":
			out[i] = a[i] & y
		default:
			out[i] = a[i] ^ y
		}
	}
	return string(out)
}

// intPow is integer exponentiation by squaring; ok is false on overflow
// (PHP then computes in floats).
func intPow(base, exp int64) (int64, bool) {
	res := int64(1)
	for exp > 0 {
		if exp&1 == 1 {
			r, ok := mulOK(res, base)
			if !ok {
				return 0, false
			}
			res = r
		}
		exp >>= 1
		if exp > 0 {
			b, ok := mulOK(base, base)
			if !ok {
				return 0, false
			}
			base = b
		}
	}
	return res, true
}

func mulOK(a, b int64) (int64, bool) {
	if a == 0 || b == 0 {
		return 0, true
	}
	r := a * b
	if r/b != a || (a == -1 && b == math.MinInt64) || (b == -1 && a == math.MinInt64) {
		return 0, false
	}
	return r, true
}
