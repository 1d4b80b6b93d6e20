package phpeval

import (
	"fmt"
	"strings"

	"github.com/reverb-go/reverb/laravelcfg/php"
)

// maxNesting bounds parser recursion so "((((((..." cannot exhaust the stack.
const maxNesting = 256

type parser struct {
	toks  []token
	p     int
	depth int
}

// parseError aborts parsing; recovered in parseProgram.
type parseError struct {
	line int
	msg  string
}

func parseProgram(src string) (stmts []stmt, err *parseError) {
	toks, lerr := lex(src)
	if lerr != nil {
		return nil, &parseError{lerr.line, lerr.msg}
	}
	ps := &parser{toks: toks}
	defer func() {
		if r := recover(); r != nil {
			pe, ok := r.(*parseError)
			if !ok {
				panic(r)
			}
			stmts, err = nil, pe
		}
	}()
	for ps.peek().kind != tEOF {
		stmts = append(stmts, ps.statement())
	}
	return stmts, nil
}

func (ps *parser) peek() token { return ps.toks[ps.p] }

func (ps *parser) peekAt(n int) token {
	if ps.p+n >= len(ps.toks) {
		return ps.toks[len(ps.toks)-1]
	}
	return ps.toks[ps.p+n]
}

func (ps *parser) next() token {
	t := ps.toks[ps.p]
	if t.kind != tEOF {
		ps.p++
	}
	return t
}

func (ps *parser) fail(line int, format string, args ...any) {
	panic(&parseError{line, fmt.Sprintf(format, args...)})
}

func (ps *parser) isOp(s string) bool {
	t := ps.peek()
	return t.kind == tOp && t.text == s
}

func (ps *parser) isKeyword(s string) bool {
	t := ps.peek()
	return t.kind == tIdent && strings.EqualFold(t.text, s)
}

func (ps *parser) accept(s string) bool {
	if ps.isOp(s) {
		ps.p++
		return true
	}
	return false
}

func (ps *parser) expect(s string) token {
	t := ps.peek()
	if t.kind != tOp || t.text != s {
		ps.fail(t.line, "syntax error, unexpected %s, expecting %q", describe(t), s)
	}
	return ps.next()
}

func describe(t token) string {
	switch t.kind {
	case tEOF:
		return "end of file"
	case tVar:
		return "variable $" + t.text
	case tString, tTemplate:
		return "string"
	case tInt, tFloat:
		return "number " + t.text
	}
	return fmt.Sprintf("%q", t.text)
}

func (ps *parser) enter() {
	ps.depth++
	if ps.depth > maxNesting {
		ps.fail(ps.peek().line, "nesting too deep")
	}
}

func (ps *parser) leave() { ps.depth-- }

// ---- statements ----

func (ps *parser) block() []stmt {
	if ps.accept("{") {
		var out []stmt
		for !ps.isOp("}") {
			if ps.peek().kind == tEOF {
				ps.fail(ps.peek().line, "syntax error, unexpected end of file, expecting \"}\"")
			}
			out = append(out, ps.statement())
		}
		ps.next()
		return out
	}
	return []stmt{ps.statement()}
}

func (ps *parser) statement() stmt {
	ps.enter()
	defer ps.leave()
	t := ps.peek()
	line := t.line
	if t.kind == tOp {
		switch t.text {
		case ";":
			ps.next()
			return &exprStmt{base{line}, &litNode{base{line}, php.NullValue()}}
		case "{":
			body := ps.block()
			return &ifStmt{base: base{line}, conds: []node{&litNode{base{line}, php.BoolValue(true)}}, bodies: [][]stmt{body}}
		}
	}
	if t.kind == tIdent {
		switch strings.ToLower(t.text) {
		case "return":
			ps.next()
			if ps.accept(";") {
				return &returnStmt{base{line}, nil}
			}
			x := ps.expr(0)
			ps.endStmt()
			return &returnStmt{base{line}, x}
		case "use":
			return ps.useStatement()
		case "namespace":
			ps.next()
			for !ps.isOp(";") && !ps.isOp("{") && ps.peek().kind != tEOF {
				ps.next()
			}
			if ps.isOp("{") {
				body := ps.block()
				return &ifStmt{base: base{line}, conds: []node{&litNode{base{line}, php.BoolValue(true)}}, bodies: [][]stmt{body}}
			}
			ps.endStmt()
			return &exprStmt{base{line}, &litNode{base{line}, php.NullValue()}}
		case "declare":
			ps.next()
			start := ps.p
			ps.skipBalanced("(", ")")
			d := ps.toks[start:ps.p]
			ps.endStmt()
			if len(d) == 5 && d[1].kind == tIdent && strings.EqualFold(d[1].text, "strict_types") &&
				d[2].kind == tOp && d[2].text == "=" && d[3].text == "1" {
				return &strictTypesStmt{base{line}}
			}
			return &exprStmt{base{line}, &litNode{base{line}, php.NullValue()}}
		case "if":
			return ps.ifStatement()
		case "foreach", "for", "while", "do", "switch", "try", "function", "class", "interface",
			"trait", "enum", "abstract", "final", "readonly", "global", "goto", "unset", "echo", "const":
			if strings.EqualFold(t.text, "function") && ps.peekAt(1).kind == tOp && ps.peekAt(1).text == "(" {
				break // a closure expression statement
			}
			return ps.skipStatement(strings.ToLower(t.text))
		case "static":
			if nt := ps.peekAt(1); nt.kind == tVar {
				return ps.skipStatement("static variable")
			}
		}
	}
	x := ps.expr(0)
	ps.endStmt()
	return &exprStmt{base{line}, x}
}

func (ps *parser) endStmt() {
	if ps.accept(";") {
		return
	}
	if ps.peek().kind == tEOF {
		return // a closing ?> ends the statement too
	}
	t := ps.peek()
	ps.fail(t.line, "syntax error, unexpected %s, expecting \";\"", describe(t))
}

// skipStatement steps over a statement the evaluator does not run: up to
// the end of its outermost {...} block, or to ";".
func (ps *parser) skipStatement(what string) stmt {
	start := ps.p
	s := ps.skipTokens(what)
	switch what {
	case "function", "class", "interface", "trait", "enum", "abstract", "final", "readonly", "const", "echo":
		// Declarations: their bodies run elsewhere, if ever.
	default:
		s.assigned, s.returns = writtenVars(ps.toks[start:ps.p])
	}
	return s
}

// assignOps are the operators after which the variable on the left is
// written.
var assignOps = map[string]bool{"=": true, "+=": true, "-=": true, "*=": true, "/=": true, ".=": true, "%=": true,
	"**=": true, "??=": true, "|=": true, "&=": true, "^=": true, "<<=": true, ">>=": true, "++": true, "--": true}

// writtenVars finds the variables a token range may write: $x = ..., $x[..] = ...,
// $x++, ++$x, &$x, foreach (... as $k => $v), unset($x), global $x; and
// whether it contains a return.
func writtenVars(toks []token) ([]string, bool) {
	seen := map[string]bool{}
	var out []string
	add := func(name string) {
		if !seen[name] {
			seen[name] = true
			out = append(out, name)
		}
	}
	returns := false
	unset := false
	for i, t := range toks {
		if t.kind == tIdent {
			switch strings.ToLower(t.text) {
			case "return":
				returns = true
			case "unset", "global", "static", "list":
				unset = true
			}
			continue
		}
		if t.kind != tVar {
			continue
		}
		prev := token{}
		if i > 0 {
			prev = toks[i-1]
		}
		if unset || prev.kind == tOp && (prev.text == "&" || prev.text == "++" || prev.text == "--" || prev.text == "=>") ||
			prev.kind == tIdent && strings.EqualFold(prev.text, "as") {
			add(t.text)
			continue
		}
		// Skip any [..] chain after the variable, then look for an
		// assignment operator.
		j := i + 1
		for j < len(toks) && toks[j].kind == tOp && toks[j].text == "[" {
			depth := 0
			for ; j < len(toks); j++ {
				if toks[j].kind == tOp && toks[j].text == "[" {
					depth++
				} else if toks[j].kind == tOp && toks[j].text == "]" {
					depth--
					if depth == 0 {
						j++
						break
					}
				}
			}
		}
		if j < len(toks) && toks[j].kind == tOp && assignOps[toks[j].text] {
			add(t.text)
		}
		if t.kind == tVar && i+1 < len(toks) && toks[i+1].kind == tOp && toks[i+1].text == ";" {
			unset = false
		}
	}
	return out, returns
}

func (ps *parser) skipTokens(what string) *skippedStmt {
	line := ps.peek().line
	depth := 0
	for {
		t := ps.next()
		if t.kind == tEOF {
			if depth > 0 {
				ps.fail(t.line, "syntax error, unexpected end of file")
			}
			break
		}
		if t.kind != tOp {
			continue
		}
		switch t.text {
		case "{", "(", "[":
			depth++
		case "}", ")", "]":
			depth--
			if depth < 0 {
				ps.fail(t.line, "syntax error, unexpected %q", t.text)
			}
			if depth == 0 && t.text == "}" {
				// do { } while (...); and if-like chains continue.
				if nt := ps.peek(); nt.kind == tIdent && (strings.EqualFold(nt.text, "while") && what == "do" ||
					strings.EqualFold(nt.text, "catch") || strings.EqualFold(nt.text, "finally") ||
					strings.EqualFold(nt.text, "else") || strings.EqualFold(nt.text, "elseif")) {
					continue
				}
				return &skippedStmt{base: base{line}, what: what}
			}
		case ";":
			if depth == 0 {
				return &skippedStmt{base: base{line}, what: what}
			}
		}
	}
	return &skippedStmt{base: base{line}, what: what}
}

func (ps *parser) skipBalanced(open, closeTok string) {
	ps.expect(open)
	depth := 1
	for depth > 0 {
		t := ps.next()
		if t.kind == tEOF {
			ps.fail(t.line, "syntax error, unexpected end of file")
		}
		if t.kind == tOp && t.text == open {
			depth++
		} else if t.kind == tOp && t.text == closeTok {
			depth--
		}
	}
}

func (ps *parser) useStatement() stmt {
	line := ps.next().line
	if ps.isKeyword("function") || ps.isKeyword("const") {
		ps.next()
	}
	var last stmt = &exprStmt{base{line}, &litNode{base{line}, php.NullValue()}}
	var uses []*useStmt
	for {
		t := ps.next()
		if t.kind != tIdent {
			ps.fail(t.line, "syntax error, unexpected %s in use", describe(t))
		}
		name := strings.TrimPrefix(t.text, "\\")
		if strings.HasSuffix(name, "\\") && ps.isOp("{") { // use A\{B, C as D};
			prefix := strings.TrimSuffix(name, "\\")
			ps.next()
			for !ps.accept("}") {
				it := ps.next()
				if it.kind != tIdent {
					ps.fail(it.line, "syntax error in group use")
				}
				full := prefix + "\\" + it.text
				alias := lastSegment(it.text)
				if ps.isKeyword("as") {
					ps.next()
					alias = ps.next().text
				}
				uses = append(uses, &useStmt{base{line}, alias, full})
				ps.accept(",")
			}
		} else {
			alias := lastSegment(name)
			if ps.isKeyword("as") {
				ps.next()
				alias = ps.next().text
			}
			uses = append(uses, &useStmt{base{line}, alias, name})
		}
		if !ps.accept(",") {
			break
		}
	}
	ps.endStmt()
	if len(uses) == 1 {
		return uses[0]
	}
	// Several imports in one statement: wrap them in an always-true block.
	body := make([]stmt, len(uses))
	for i, u := range uses {
		body[i] = u
	}
	if len(body) > 0 {
		last = &ifStmt{base: base{line}, conds: []node{&litNode{base{line}, php.BoolValue(true)}}, bodies: [][]stmt{body}}
	}
	return last
}

func lastSegment(name string) string {
	if i := strings.LastIndexByte(name, '\\'); i >= 0 {
		return name[i+1:]
	}
	return name
}

func (ps *parser) ifStatement() stmt {
	line := ps.next().line
	s := &ifStmt{base: base{line}}
	ps.expect("(")
	s.conds = append(s.conds, ps.expr(0))
	ps.expect(")")
	if ps.accept(":") {
		return ps.altIf(s)
	}
	s.bodies = append(s.bodies, ps.block())
	for {
		if ps.isKeyword("elseif") {
			ps.next()
		} else if ps.isKeyword("else") && ps.peekAt(1).kind == tIdent && strings.EqualFold(ps.peekAt(1).text, "if") {
			ps.next()
			ps.next()
		} else if ps.isKeyword("else") {
			ps.next()
			s.els = ps.block()
			if s.els == nil {
				s.els = []stmt{}
			}
			return s
		} else {
			return s
		}
		ps.expect("(")
		s.conds = append(s.conds, ps.expr(0))
		ps.expect(")")
		s.bodies = append(s.bodies, ps.block())
	}
}

// altIf parses the rest of `if (c): ... elseif (c): ... else: ... endif;`.
func (ps *parser) altIf(s *ifStmt) stmt {
	body := func() []stmt {
		out := []stmt{}
		for !ps.isKeyword("elseif") && !ps.isKeyword("else") && !ps.isKeyword("endif") {
			if ps.peek().kind == tEOF {
				ps.fail(ps.peek().line, "syntax error, unexpected end of file, expecting \"endif\"")
			}
			out = append(out, ps.statement())
		}
		return out
	}
	s.bodies = append(s.bodies, body())
	for {
		switch {
		case ps.isKeyword("elseif"):
			ps.next()
			ps.expect("(")
			s.conds = append(s.conds, ps.expr(0))
			ps.expect(")")
			ps.expect(":")
			s.bodies = append(s.bodies, body())
		case ps.isKeyword("else"):
			ps.next()
			ps.expect(":")
			s.els = body()
		default:
			ps.next() // endif
			ps.endStmt()
			return s
		}
	}
}

// ---- expressions ----

// Binding powers, PHP 8 precedence (higher binds tighter).
const (
	bpLowOr  = 1 // or
	bpLowXor = 2 // xor
	bpLowAnd = 3 // and
	bpAssign = 4
	bpTern   = 5
	bpCoal   = 6
	bpOr     = 7
	bpAnd    = 8
	bpBitOr  = 9
	bpBitXor = 10
	bpBitAnd = 11
	bpEq     = 12
	bpCmp    = 13
	bpConcat = 14
	bpShift  = 15
	bpAdd    = 16
	bpMul    = 17
	bpInstOf = 18
	bpUnary  = 19
	bpPow    = 20
)

func binaryBP(t token) (int, bool) {
	if t.kind == tIdent {
		switch strings.ToLower(t.text) {
		case "or":
			return bpLowOr, true
		case "xor":
			return bpLowXor, true
		case "and":
			return bpLowAnd, true
		case "instanceof":
			return bpInstOf, true
		}
		return 0, false
	}
	if t.kind != tOp {
		return 0, false
	}
	switch t.text {
	case "??":
		return bpCoal, true
	case "||":
		return bpOr, true
	case "&&":
		return bpAnd, true
	case "|":
		return bpBitOr, true
	case "^":
		return bpBitXor, true
	case "&":
		return bpBitAnd, true
	case "==", "!=", "<>", "===", "!==", "<=>":
		return bpEq, true
	case "<", "<=", ">", ">=":
		return bpCmp, true
	case ".":
		return bpConcat, true
	case "<<", ">>":
		return bpShift, true
	case "+", "-":
		return bpAdd, true
	case "*", "/", "%":
		return bpMul, true
	case "**":
		return bpPow, true
	}
	return 0, false
}

func (ps *parser) expr(minBP int) node {
	ps.enter()
	defer ps.leave()
	left := ps.unary()
	for {
		t := ps.peek()
		if t.kind == tOp && t.text == "?" && minBP <= bpTern {
			ps.next()
			if ps.accept(":") {
				els := ps.expr(bpTern + 1)
				left = &ternaryNode{base{t.line}, left, nil, els}
				continue
			}
			then := ps.expr(bpAssign)
			ps.expect(":")
			els := ps.expr(bpTern + 1)
			left = &ternaryNode{base{t.line}, left, then, els}
			continue
		}
		bp, ok := binaryBP(t)
		if !ok || bp < minBP {
			return left
		}
		ps.next()
		op := t.text
		if t.kind == tIdent {
			op = strings.ToLower(op)
		}
		if op == "instanceof" {
			ps.unary()
			left = &unsupportedNode{base{t.line}, "instanceof"}
			continue
		}
		nextMin := bp + 1
		if op == "??" || op == "**" { // right associative
			nextMin = bp
		}
		right := ps.expr(nextMin)
		left = &binaryNode{base{t.line}, op, left, right}
	}
}

var castNames = map[string]string{
	"string": "string", "int": "int", "integer": "int", "bool": "bool", "boolean": "bool",
	"float": "float", "double": "float", "real": "float", "array": "array", "object": "object",
	"unset": "unset", "binary": "string",
}

func (ps *parser) unary() node {
	ps.enter()
	defer ps.leave()
	t := ps.peek()
	if t.kind == tOp {
		switch t.text {
		case "!":
			ps.next()
			return &unaryNode{base{t.line}, "!", ps.expr(bpUnary)}
		case "-", "+", "~":
			ps.next()
			return &unaryNode{base{t.line}, t.text, ps.expr(bpUnary)}
		case "@":
			ps.next()
			return ps.expr(bpUnary)
		case "&":
			// by-reference in odd places: evaluate as the value.
			ps.next()
			return ps.expr(bpUnary)
		case "++", "--":
			ps.next()
			x := ps.expr(bpUnary)
			switch x.(type) {
			case *varNode, *indexNode:
			default:
				ps.fail(t.line, "syntax error, unexpected %q", t.text)
			}
			return &assignNode{base{t.line}, x, t.text[:1] + "=", &litNode{base{t.line}, php.IntValue(1)}}
		case "(":
			// A cast is "(" type ")".
			if nt, ct := ps.peekAt(1), ps.peekAt(2); nt.kind == tIdent && ct.kind == tOp && ct.text == ")" {
				if to, ok := castNames[strings.ToLower(nt.text)]; ok {
					ps.p += 3
					return &castNode{base{t.line}, to, ps.expr(bpUnary)}
				}
			}
		}
	}
	return ps.postfix(ps.primary())
}

func (ps *parser) postfix(x node) node {
	for {
		t := ps.peek()
		if t.kind != tOp {
			return x
		}
		switch t.text {
		case "[":
			ps.next()
			if ps.accept("]") {
				x = &indexNode{base{t.line}, x, nil}
				continue
			}
			k := ps.expr(0)
			ps.expect("]")
			x = &indexNode{base{t.line}, x, k}
		case "{":
			return x
		case "(":
			args := ps.args()
			x = &dynCallNode{base{t.line}, x, args}
		case "->", "?->":
			ps.next()
			nt := ps.next()
			if nt.kind == tOp && nt.text == "{" {
				ps.p--
				ps.skipBalanced("{", "}")
			}
			if ps.isOp("(") {
				ps.args()
				x = &unsupportedNode{base{t.line}, "method call ->" + nt.text + "()"}
			} else {
				x = &unsupportedNode{base{t.line}, "property access ->" + nt.text}
			}
		case "::":
			ps.next()
			nt := ps.next()
			what := "static access on an expression"
			if ps.isOp("(") {
				ps.args()
				what = "static call on an expression ::" + nt.text + "()"
			}
			x = &unsupportedNode{base{t.line}, what}
		case "=", "+=", "-=", "*=", "/=", ".=", "%=", "**=", "??=", "|=", "&=", "^=", "<<=", ">>=":
			switch x.(type) {
			case *varNode, *indexNode:
			case *arrayNode: // [$a, $b] = ... / list($a, $b) = ...
				if t.text != "=" {
					ps.fail(t.line, "syntax error, unexpected %q", t.text)
				}
			default:
				ps.fail(t.line, "syntax error, unexpected %q", t.text)
			}
			ps.next()
			if t.text == "=" && ps.isOp("&") { // =& reference assignment
				ps.next()
			}
			val := ps.expr(bpAssign)
			op := ""
			if t.text != "=" {
				op = t.text
			}
			return &assignNode{base{t.line}, x, op, val}
		case "++", "--":
			switch x.(type) {
			case *varNode, *indexNode:
			default:
				return x // PHP reports the syntax error at the next token
			}
			ps.next()
			// Post-increment: the value is the old one; config files never
			// depend on it, so treat it like the prefix form.
			x = &assignNode{base{t.line}, x, t.text[:1] + "=", &litNode{base{t.line}, php.IntValue(1)}}
		default:
			return x
		}
	}
}

func (ps *parser) args() []callArg {
	ps.expect("(")
	var out []callArg
	for !ps.accept(")") {
		a := callArg{}
		if ps.accept("...") {
			if ps.isOp(")") { // first-class callable syntax f(...)
				ps.next()
				return append(out, callArg{x: &unsupportedNode{base{ps.peek().line}, "first-class callable"}})
			}
			a.spread = true
		}
		if t := ps.peek(); t.kind == tIdent && ps.peekAt(1).kind == tOp && ps.peekAt(1).text == ":" &&
			!(ps.peekAt(2).kind == tOp && ps.peekAt(2).text == ":") {
			a.name = t.text
			ps.p += 2
		}
		a.x = ps.expr(0)
		out = append(out, a)
		if !ps.accept(",") {
			ps.expect(")")
			break
		}
	}
	return out
}

func (ps *parser) arrayLiteral(closeTok string, line int) node {
	arr := &arrayNode{base: base{line}}
	for !ps.accept(closeTok) {
		if ps.isOp(",") { // an empty slot, only valid when destructuring: [, $b]
			ps.next()
			arr.items = append(arr.items, arrayItem{})
			continue
		}
		it := arrayItem{}
		if ps.accept("...") {
			it.spread = true
			it.val = ps.expr(0)
		} else {
			if ps.accept("&") {
				it.byRef = true
			}
			v := ps.expr(0)
			if ps.accept("=>") {
				it.key = v
				if ps.accept("&") {
					it.byRef = true
				}
				v = ps.expr(0)
			}
			it.val = v
		}
		arr.items = append(arr.items, it)
		if !ps.accept(",") {
			ps.expect(closeTok)
			break
		}
	}
	return arr
}

func (ps *parser) primary() node {
	t := ps.next()
	line := t.line
	switch t.kind {
	case tInt:
		return &litNode{base{line}, php.IntValue(t.ival)}
	case tFloat:
		return &litNode{base{line}, php.FloatValue(t.fval)}
	case tString:
		return &litNode{base{line}, php.StringValue(t.text)}
	case tTemplate:
		return &templateNode{base{line}, t.parts}
	case tVar:
		return &varNode{base{line}, t.text}
	case tBacktick:
		return &unsupportedNode{base{line}, "backtick shell execution"}
	case tOp:
		switch t.text {
		case "(":
			x := ps.expr(0)
			ps.expect(")")
			return x
		case "[":
			return ps.arrayLiteral("]", line)
		case "$":
			ps.fail(line, "unsupported variable variable")
		}
		ps.fail(line, "syntax error, unexpected %s", describe(t))
	case tIdent:
		return ps.identExpr(t)
	}
	ps.fail(line, "syntax error, unexpected %s", describe(t))
	return nil
}

func (ps *parser) identExpr(t token) node {
	line := t.line
	low := strings.ToLower(t.text)
	switch low {
	case "true":
		return &litNode{base{line}, php.BoolValue(true)}
	case "false":
		return &litNode{base{line}, php.BoolValue(false)}
	case "null":
		return &litNode{base{line}, php.NullValue()}
	case "array":
		if ps.isOp("(") {
			ps.next()
			return ps.arrayLiteral(")", line)
		}
	case "list":
		if ps.isOp("(") {
			ps.next()
			return ps.arrayLiteral(")", line)
		}
	case "isset":
		args := ps.args()
		n := &issetNode{base: base{line}}
		for _, a := range args {
			n.xs = append(n.xs, a.x)
		}
		return n
	case "empty":
		args := ps.args()
		if len(args) != 1 {
			ps.fail(line, "empty() takes exactly one argument")
		}
		return &emptyNode{base{line}, args[0].x}
	case "fn":
		return ps.closure(line, true)
	case "function":
		return ps.closure(line, false)
	case "static":
		if ps.isKeyword("fn") {
			ps.next()
			return ps.closure(line, true)
		}
		if ps.isKeyword("function") {
			ps.next()
			return ps.closure(line, false)
		}
	case "new":
		if ps.isKeyword("class") {
			// new class(...) extends X implements Y { ... }: never run.
			ps.next()
			if ps.isOp("(") {
				ps.args()
			}
			for !ps.isOp("{") {
				if ps.peek().kind == tEOF {
					ps.fail(line, "syntax error, unexpected end of file")
				}
				ps.next()
			}
			ps.skipBalanced("{", "}")
			return &unsupportedNode{base{line}, "anonymous class"}
		}
		cls := ps.next()
		if cls.kind == tOp && cls.text == "(" {
			ps.p--
			ps.skipBalanced("(", ")")
		}
		if ps.isOp("(") {
			ps.args()
		}
		return &unsupportedNode{base{line}, "new " + cls.text}
	case "include", "include_once", "require", "require_once", "print", "clone", "throw", "yield":
		ps.expr(bpAssign)
		return &unsupportedNode{base{line}, low}
	case "exit", "die":
		if ps.isOp("(") {
			ps.args()
		}
		return &unsupportedNode{base{line}, low}
	case "match":
		if ps.isOp("(") {
			return ps.match(line)
		}
	}
	if ps.isOp("(") {
		return &callNode{base{line}, t.text, ps.args()}
	}
	if ps.isOp("::") {
		ps.next()
		nt := ps.next()
		switch {
		case nt.kind == tIdent && ps.isOp("("):
			return &staticCallNode{base{line}, t.text, nt.text, ps.args()}
		case nt.kind == tIdent:
			return &classConstNode{base{line}, t.text, nt.text}
		case nt.kind == tVar:
			return &unsupportedNode{base{line}, "static property " + t.text + "::$" + nt.text}
		}
		ps.fail(nt.line, "syntax error, unexpected %s after ::", describe(nt))
	}
	return &constNode{base{line}, t.text}
}

func (ps *parser) match(line int) node {
	ps.expect("(")
	m := &matchNode{base: base{line}, subject: ps.expr(0)}
	ps.expect(")")
	ps.expect("{")
	for !ps.accept("}") {
		arm := matchArm{}
		if ps.isKeyword("default") {
			ps.next()
		} else {
			for {
				arm.conds = append(arm.conds, ps.expr(0))
				if !ps.accept(",") || ps.isOp("=>") {
					break
				}
			}
			if arm.conds == nil {
				arm.conds = []node{}
			}
		}
		ps.expect("=>")
		arm.val = ps.expr(0)
		m.arms = append(m.arms, arm)
		if !ps.accept(",") {
			ps.expect("}")
			break
		}
	}
	return m
}

func (ps *parser) closure(line int, arrow bool) node {
	c := &closureNode{base: base{line}}
	ps.accept("&")
	ps.expect("(")
	for !ps.accept(")") {
		p := param{}
		// Modifiers and types (?T, A|B, A&B) come before the variable.
		for {
			t := ps.peek()
			if t.kind == tIdent || t.kind == tOp && (t.text == "?" || t.text == "|") ||
				t.kind == tOp && t.text == "&" && ps.peekAt(1).kind == tIdent {
				ps.next()
				continue
			}
			break
		}
		ps.accept("&")
		if ps.accept("...") {
			p.variadic = true
		}
		vt := ps.next()
		if vt.kind != tVar {
			ps.fail(vt.line, "syntax error, unexpected %s in parameter list", describe(vt))
		}
		p.name = vt.text
		if ps.accept("=") {
			p.def = ps.expr(0)
		}
		c.params = append(c.params, p)
		if !ps.accept(",") {
			ps.expect(")")
			break
		}
	}
	if !arrow && ps.isKeyword("use") {
		ps.next()
		ps.expect("(")
		for !ps.accept(")") {
			ps.accept("&")
			vt := ps.next()
			if vt.kind != tVar {
				ps.fail(vt.line, "syntax error in use list")
			}
			c.uses = append(c.uses, vt.text)
			if !ps.accept(",") {
				ps.expect(")")
				break
			}
		}
	}
	if ps.accept(":") { // return type
		for {
			t := ps.peek()
			if t.kind == tIdent || t.kind == tOp && (t.text == "?" || t.text == "|" || t.text == "&") {
				ps.next()
				continue
			}
			break
		}
	}
	if arrow {
		ps.expect("=>")
		c.expr = ps.expr(bpAssign)
		return c
	}
	if !ps.isOp("{") {
		ps.fail(ps.peek().line, "syntax error, expecting \"{\"")
	}
	c.body = ps.block()
	return c
}
