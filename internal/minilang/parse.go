package minilang

import (
	"math"
	"strconv"
	"strings"
)

// node is a parsed filter expression.
type node struct {
	op    string // "and", "or", "not", "cond"
	kids  []*node
	field string
	fpos  int
	cmp   string // the comparison operator of a "cond"
	val   literal
}

// literal is a parsed value: a scalar or an array of scalars.
type literal struct {
	isArray bool
	scalar  Value
	elems   []Value
	pos     int
}

var wordOps = map[string]bool{"contains": true, "in": true, "isnot": true, "is": true, "like": true, "ilike": true}

type parser struct {
	src  string
	toks []token
	i    int
}

func (p *parser) peek() token { return p.toks[p.i] }

func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

func (p *parser) unexpected(t token, expected string) *Error {
	if t.kind == tEOF {
		return filterErr(t.pos, "", "Unexpected end of input at %s. Expected %s", position(p.src, t.pos), expected)
	}
	return filterErr(t.pos, t.raw, "Unexpected token %s at %s. Expected %s", strconv.Quote(t.raw), position(p.src, t.pos), expected)
}

func tooDeep(pos int) *Error {
	return filterErr(pos, "", "expression nested deeper than %d levels", MaxDepth)
}

// parseFilter parses a whole filter expression.
func parseFilter(s string) (*node, *Error) {
	toks, err := lexFilter(s)
	if err != nil {
		return nil, err
	}
	p := &parser{src: s, toks: toks}
	n, err := p.expr(0)
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, p.unexpected(t, `"&", "|" or the end of the expression`)
	}
	if depth(n) > MaxDepth {
		return nil, tooDeep(0)
	}
	return n, nil
}

// expr parses `"!" expr | primary [("&" | "|") expr]`. A chain of & and | is collected
// iteratively and folded to the right, so its length does not deepen the recursion; runs of
// the same operator become one n-ary node.
func (p *parser) expr(d int) (*node, *Error) {
	if d > MaxDepth {
		return nil, tooDeep(p.peek().pos)
	}
	var items []*node
	var ops []string
	for {
		if t := p.peek(); t.kind == tPunct && t.text == "!" {
			p.next()
			inner, err := p.expr(d + 1)
			if err != nil {
				return nil, err
			}
			items = append(items, &node{op: "not", kids: []*node{inner}})
			break // ! takes everything to its right
		}
		n, err := p.primary(d)
		if err != nil {
			return nil, err
		}
		items = append(items, n)
		t := p.peek()
		if t.kind != tPunct || (t.text != "&" && t.text != "|") {
			break
		}
		p.next()
		if t.text == "&" {
			ops = append(ops, "and")
		} else {
			ops = append(ops, "or")
		}
	}
	// Fold to the right: a op1 b op2 c = a op1 (b op2 c).
	acc := items[len(items)-1]
	for k := len(ops) - 1; k >= 0; k-- {
		left := items[k]
		if acc.op == ops[k] {
			acc.kids = append([]*node{left}, acc.kids...)
			continue
		}
		acc = &node{op: ops[k], kids: []*node{left, acc}}
	}
	return acc, nil
}

// primary parses `"(" expr ")" | NAME OP value`.
func (p *parser) primary(d int) (*node, *Error) {
	t := p.next()
	switch {
	case t.kind == tPunct && t.text == "(":
		n, err := p.expr(d + 1)
		if err != nil {
			return nil, err
		}
		if c := p.next(); c.kind != tPunct || c.text != ")" {
			return nil, p.unexpected(c, `")", "&" or "|"`)
		}
		// A parenthesised group is a node of its own: a & (b & c) keeps its shape, which is
		// equivalent either way, and a | (b & c) must not merge.
		if n.op == "and" || n.op == "or" {
			n = &node{op: "group", kids: []*node{n}}
		}
		return n, nil
	case t.kind == tName:
		op := p.next()
		if op.kind != tOp && !(op.kind == tName && wordOps[op.text]) {
			return nil, p.unexpected(op, "an operator: ==, !=, >, >=, <, <=, contains, in, is, isnot, like or ilike")
		}
		v, err := p.value(true)
		if err != nil {
			return nil, err
		}
		return &node{op: "cond", field: t.text, fpos: t.pos, cmp: op.text, val: v}, nil
	}
	return nil, p.unexpected(t, `a field name, "(" or "!"`)
}

// value parses a scalar or, when arrays are allowed, an array of scalars.
func (p *parser) value(allowArray bool) (literal, *Error) {
	t := p.next()
	if t.kind == tPunct && t.text == "[" && allowArray {
		lit := literal{isArray: true, pos: t.pos}
		if c := p.peek(); c.kind == tPunct && c.text == "]" {
			p.next()
			return lit, nil
		}
		for {
			if len(lit.elems) >= MaxArray {
				return literal{}, filterErr(p.peek().pos, "", "array longer than %d elements", MaxArray)
			}
			e, err := p.value(false)
			if err != nil {
				return literal{}, err
			}
			lit.elems = append(lit.elems, e.scalar)
			c := p.next()
			if c.kind == tPunct && c.text == "]" {
				return lit, nil
			}
			if c.kind != tPunct || c.text != "," {
				return literal{}, p.unexpected(c, `"," or "]"`)
			}
		}
	}
	v, err := p.scalar(t)
	if err != nil {
		return literal{}, err
	}
	return literal{scalar: v, pos: t.pos}, nil
}

func (p *parser) scalar(t token) (Value, *Error) {
	switch t.kind {
	case tString:
		return Value{Kind: String, S: t.text, Raw: t.raw}, nil
	case tNumber:
		return parseNumber(p.src, t)
	case tName:
		switch t.text {
		case "null":
			return Value{Kind: Null, Raw: t.raw}, nil
		case "true":
			return Value{Kind: Bool, B: true, Raw: t.raw}, nil
		case "false":
			return Value{Kind: Bool, B: false, Raw: t.raw}, nil
		}
	}
	return Value{}, p.unexpected(t, "a value: a double-quoted string, a number, an array, null, true or false")
}

// parseNumber reads a signed number: with a "." it is a float, otherwise an int (so "1e3",
// without a ".", is refused as Backend.AI does).
func parseNumber(src string, t token) (Value, *Error) {
	bad := func() (Value, *Error) {
		return Value{}, filterErr(t.pos, t.raw, "Invalid number %s at %s", strconv.Quote(t.raw), position(src, t.pos))
	}
	if strings.Contains(t.text, ".") {
		f, err := strconv.ParseFloat(t.text, 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) || strings.ContainsAny(t.text, "_xXpPnNiI") {
			return bad()
		}
		return Value{Kind: Float, F: f, Raw: t.raw}, nil
	}
	// Base 10 only: ParseInt with base 10 refuses "0x10" and "1_000".
	n, err := strconv.ParseInt(t.text, 10, 64)
	if err != nil {
		return bad()
	}
	return Value{Kind: Int, I: n, Raw: t.raw}, nil
}

// depth is the nesting depth of a parsed tree (iterative, so a hostile tree cannot exhaust the
// stack before the limit is checked).
func depth(root *node) int {
	type item struct {
		n *node
		d int
	}
	stack := []item{{root, 1}}
	maxD := 0
	for len(stack) > 0 {
		it := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if it.d > maxD {
			maxD = it.d
		}
		for _, k := range it.n.kids {
			stack = append(stack, item{k, it.d + 1})
		}
	}
	return maxD
}
