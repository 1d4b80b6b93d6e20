package phpeval

import "github.com/reverb-go/reverb/laravelcfg/php"

// node is an expression.
type node interface{ pos() int }

type base struct{ line int }

func (b base) pos() int { return b.line }

type (
	litNode struct {
		base
		v php.Value
	}
	templateNode struct {
		base
		parts []strPart
	}
	varNode struct {
		base
		name string
	}
	arrayItem struct {
		key    node // nil: next integer key
		val    node
		spread bool
		byRef  bool
	}
	arrayNode struct {
		base
		items []arrayItem
	}
	indexNode struct {
		base
		x   node
		key node // nil for $a[]
	}
	callArg struct {
		x      node
		spread bool
		name   string // named argument (PHP 8)
	}
	callNode struct {
		base
		name string // as written, e.g. "env", "\\trim"
		args []callArg
	}
	// dynCallNode calls a callable value: $fn(...) or (fn() => 1)().
	dynCallNode struct {
		base
		fn   node
		args []callArg
	}
	staticCallNode struct {
		base
		class, method string
		args          []callArg
	}
	classConstNode struct {
		base
		class, name string
	}
	constNode struct {
		base
		name string
	}
	unaryNode struct {
		base
		op string
		x  node
	}
	binaryNode struct {
		base
		op   string
		l, r node
	}
	ternaryNode struct {
		base
		cond, then, els node // then nil for ?:
	}
	castNode struct {
		base
		to string // "string", "int", "bool", "float", "array", "object", "unset"
		x  node
	}
	assignNode struct {
		base
		target node // varNode or indexNode
		op     string
		val    node
	}
	issetNode struct {
		base
		xs []node
	}
	emptyNode struct {
		base
		x node
	}
	param struct {
		name     string
		def      node
		variadic bool
	}
	closureNode struct {
		base
		params []param
		uses   []string
		body   []stmt // function closures
		expr   node   // arrow functions
	}
	matchArm struct {
		conds []node // nil: default
		val   node
	}
	matchNode struct {
		base
		subject node
		arms    []matchArm
	}
	// unsupportedNode is a construct the evaluator never executes; its
	// value is php.Unknown naming what.
	unsupportedNode struct {
		base
		what string
	}
)

// stmt is a statement.
type stmt interface{ pos() int }

type (
	exprStmt struct {
		base
		x node
	}
	returnStmt struct {
		base
		x node // nil: return;
	}
	ifStmt struct {
		base
		conds  []node
		bodies [][]stmt
		els    []stmt // nil when absent
	}
	// strictTypesStmt is declare(strict_types=1): scalar parameters of the
	// functions the file calls are no longer coerced.
	strictTypesStmt struct {
		base
	}
	// skippedStmt is a statement kind the evaluator does not run (loops,
	// declarations...); it is reported as a warning.
	skippedStmt struct {
		base
		what string
		// assigned are variables the statement may write; they become
		// Unknown, so a skipped loop can never leave a stale value behind.
		assigned []string
		// returns is true when a return inside may end the file.
		returns bool
	}
	// useStmt records an import alias.
	useStmt struct {
		base
		alias, name string
	}
)
