package minilang

import (
	"fmt"
	"strings"
	"time"
)

// CompileFilter parses expr and returns a parenthesised SQL boolean expression using only
// Columns from fields and placeholders from args. The empty string (or only whitespace) is
// an error-free "" (no filter). On error args is left unchanged.
func CompileFilter(expr string, fields Fields, args *Args) (string, error) {
	if strings.TrimSpace(expr) == "" && len(expr) <= MaxLength {
		return "", nil
	}
	if err := checkText(expr, false); err != nil {
		return "", err
	}
	root, perr := parseFilter(expr)
	if perr != nil {
		return "", perr
	}
	c := compiler{fields: fields, args: Args{N: args.N}}
	var b strings.Builder
	if err := c.node(&b, root); err != nil {
		return "", err
	}
	args.N = c.args.N
	args.Values = append(args.Values, c.args.Values...)
	// Every node writes its own parentheses, so the whole is parenthesised.
	return b.String(), nil
}

type compiler struct {
	fields Fields
	args   Args
}

func (c *compiler) node(b *strings.Builder, n *node) *Error {
	switch n.op {
	case "and", "or":
		sep := " AND "
		if n.op == "or" {
			sep = " OR "
		}
		b.WriteByte('(')
		for i, k := range n.kids {
			if i > 0 {
				b.WriteString(sep)
			}
			if err := c.node(b, k); err != nil {
				return err
			}
		}
		b.WriteByte(')')
	case "group":
		return c.node(b, n.kids[0])
	case "not":
		b.WriteString("(NOT ")
		if err := c.node(b, n.kids[0]); err != nil {
			return err
		}
		b.WriteByte(')')
	case "cond":
		s, err := c.cond(n)
		if err != nil {
			return err
		}
		b.WriteString(s)
	}
	return nil
}

var cmpSQL = map[string]string{"==": "=", "!=": "<>", ">": ">", ">=": ">=", "<": "<", "<=": "<="}

// cond compiles one `NAME OP value`.
func (c *compiler) cond(n *node) (string, *Error) {
	f, ok := c.fields[n.field]
	if !ok || f.NoFilter || f.Column == "" {
		return "", unknownField(false, n.field)
	}
	fail := func(format string, a ...any) *Error {
		e := ruleErr(false, n.field, fmt.Sprintf(format, a...))
		e.Pos = n.val.pos
		return e
	}
	v := n.val
	if v.isArray && n.cmp != "in" {
		return "", fail("operator %s takes a single value, not an array (field %s)", n.cmp, n.field)
	}

	// The column side: the column itself, or each element of an array column.
	target := f.Column
	if f.Array {
		target = "item"
	}
	wrap := func(pred string) string {
		if f.Array {
			return "(EXISTS (SELECT 1 FROM unnest(" + f.Column + ") AS item WHERE " + pred + "))"
		}
		return "(" + pred + ")"
	}
	operand := func(goValue any) string { return jsonOperand(target, f.JSONKey, goValue) }
	textOperand := func() string {
		if f.JSONKey != "" {
			return jsonOperand(target, f.JSONKey, "")
		}
		return "CAST(" + target + " AS text)"
	}
	convert := func(val Value) (any, *Error) {
		if val.Kind == Null {
			return nil, fail("null cannot be compared with %s (field %s); use \"is null\" or \"isnot null\"", n.cmp, n.field)
		}
		if f.Convert == nil {
			return val.GoValue(), nil
		}
		out, err := f.Convert(val)
		if err != nil {
			return nil, fail("%s (field %s)", err.Error(), n.field)
		}
		return out, nil
	}

	switch n.cmp {
	case "is", "isnot":
		var word string
		switch v.scalar.Kind {
		case Null:
			word = "NULL"
		case Bool:
			if !f.isBool() {
				return "", fail("operator %s takes only null on field %s, which is not boolean; got %s", n.cmp, n.field, v.scalar.Raw)
			}
			word = "FALSE"
			if v.scalar.B {
				word = "TRUE"
			}
		default:
			return "", fail("operator %s takes null, true or false; got %s", n.cmp, v.scalar.Raw)
		}
		not := ""
		if n.cmp == "isnot" {
			not = "NOT "
		}
		if word == "NULL" {
			// Null-ness is about the column (the whole array, for an array column).
			return "(" + jsonOperand(f.Column, f.JSONKey, nil) + " IS " + not + "NULL)", nil
		}
		return wrap(operand(v.scalar.B) + " IS " + not + word), nil
	case "==", "!=":
		if v.scalar.Kind == Null {
			not := ""
			if n.cmp == "!=" {
				not = "NOT "
			}
			return "(" + jsonOperand(f.Column, f.JSONKey, nil) + " IS " + not + "NULL)", nil
		}
		fallthrough
	case ">", ">=", "<", "<=":
		gv, err := convert(v.scalar)
		if err != nil {
			return "", err
		}
		return wrap(operand(gv) + " " + cmpSQL[n.cmp] + " " + c.args.Add(gv)), nil
	case "contains", "like", "ilike":
		if v.scalar.Kind != String {
			return "", fail("operator %s takes a double-quoted string; got %s", n.cmp, v.scalar.Raw)
		}
		pattern, op := v.scalar.S, "LIKE"
		switch n.cmp {
		case "contains":
			pattern = "%" + escapeLike(pattern) + "%"
		case "ilike":
			op = "ILIKE"
		}
		return wrap(textOperand() + " " + op + " " + c.args.Add(pattern)), nil
	case "in":
		if !v.isArray {
			return "", fail("operator in takes an array, e.g. [\"A\", \"B\"]; got %s", v.scalar.Raw)
		}
		if len(v.elems) == 0 {
			return "(FALSE)", nil
		}
		vals := make([]any, len(v.elems))
		for i, e := range v.elems {
			gv, err := convert(e)
			if err != nil {
				return "", err
			}
			vals[i] = gv
		}
		ph := make([]string, len(vals))
		for i, gv := range vals {
			ph[i] = c.args.Add(gv)
		}
		return wrap(operand(vals[0]) + " IN (" + strings.Join(ph, ", ") + ")"), nil
	}
	return "", fail("unsupported operator %s", n.cmp)
}

// jsonOperand is the column side of a comparison: the expression itself, or its JSON key
// as text, cast to the type of the value it is compared with.
func jsonOperand(expr, key string, goValue any) string {
	if key == "" {
		return expr
	}
	s := "(" + expr + " ->> " + quoteLiteral(key) + ")"
	switch goValue.(type) {
	case time.Time:
		return "CAST(" + s + " AS timestamptz)"
	case int64, float64, int, int32, float32:
		return "CAST(" + s + " AS numeric)"
	case bool:
		return "CAST(" + s + " AS boolean)"
	}
	return s
}

// quoteLiteral quotes a trusted table constant (a JSON key) as an SQL string literal.
func quoteLiteral(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// escapeLike makes s match itself literally in a LIKE pattern (backslash is the default
// escape character of PostgreSQL's LIKE).
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// isBool reports whether f is a boolean column: marked Bool, or with a converter that turns
// the literal true into a Go bool (AsBool, or a wrapper of it).
func (f Field) isBool() bool {
	if f.Bool {
		return true
	}
	if f.Convert == nil {
		return false
	}
	out, err := f.Convert(Value{Kind: Bool, B: true, Raw: "true"})
	_, ok := out.(bool)
	return err == nil && ok
}
