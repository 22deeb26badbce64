// Package minilang compiles Backend.AI's `filter` and `order` mini-language (the arguments of
// the GraphQL *_list queries) into SQL fragments. Names are resolved only through a per-list
// Fields table of trusted column expressions, and every literal reaches SQL as a bind parameter.
//
// Filter grammar (no operator precedence; & and | group to the right; ! covers everything to
// its right):
//
//	expr  := "!" expr | cond [("&" | "|") expr] | "(" expr ")" [("&" | "|") expr]
//	cond  := NAME OP value
//	OP    := == | != | > | >= | < | <= | contains | in | isnot | is | like | ilike
//	value := "double-quoted" | signed int | signed float | [value, …] | null | true | false
//
// Order grammar: [+|-]NAME ("," [+|-]NAME)*, + or nothing for ascending, - for descending.
//
// The parser is a small hand-written recursive-descent parser rather than a parser library:
// the grammar has a handful of productions, its right grouping and the scope of ! are easier
// to state directly than in a PEG grammar, and writing it by hand keeps the hostile-input
// limits (expression length, nesting depth, array size) and the error positions exact. It is
// covered by a native fuzz target.
//
// Deliberate differences from Backend.AI:
//   - `contains` matches its operand literally: % and _ in it are escaped ("50%" finds the
//     text "50%"), where Backend.AI passes them through as LIKE wildcards.
//   - `== null` and `!= null` mean IS NULL and IS NOT NULL, where Backend.AI compiles = NULL,
//     which matches nothing.
//   - is/isnot null never goes through a field's converter, so `status is null` works on enum
//     fields; is/isnot true/false is accepted only on boolean fields (Field.Bool, or a
//     converter that accepts true and false, such as AsBool) and is a parsing error naming
//     the field elsewhere, where Backend.AI lets the database fail.
//   - contains/like/ilike compare the column's text form, so they work on enum, uuid and
//     timestamp columns.
package minilang

import (
	"fmt"
	"strconv"
)

// Limits that bound the work any single expression can cause.
const (
	MaxLength = 4096 // bytes of a filter or order expression
	MaxDepth  = 64   // nesting of parentheses, ! and alternating &/| chains
	MaxArray  = 1000 // elements of one array literal
)

// Field describes one name of a list's filter/order table (backendai-graphql.md §6.3).
type Field struct {
	Column    string                   // trusted SQL expression, e.g. "sessions.status" or "u.email"
	OrderExpr string                   // optional: expression used for ORDER BY when it differs from Column
	Array     bool                     // array column: a comparison matches if any element does (EXISTS … unnest)
	JSONKey   string                   // optional: compare Column ->> JSONKey
	Convert   func(Value) (any, error) // optional converter (enum names, timestamps, uuids); nil = the literal's Go value
	Bool      bool                     // boolean column; so is a field whose converter accepts true and false (AsBool)
	NoFilter  bool                     // order-only
	NoOrder   bool                     // filter-only
}

// Fields is a list's table of filter/order names.
type Fields map[string]Field

// Kind is the type of a literal.
type Kind int

// The kinds of literals.
const (
	String Kind = iota + 1
	Int
	Float
	Null
	Bool
)

func (k Kind) String() string {
	switch k {
	case String:
		return "string"
	case Int:
		return "int"
	case Float:
		return "float"
	case Null:
		return "null"
	case Bool:
		return "bool"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Value is one parsed literal: Kind is String, Int, Float, Null or Bool, the matching field
// holds the value, and Raw is the source text.
type Value struct {
	Kind Kind
	S    string
	I    int64
	F    float64
	B    bool
	Raw  string
}

// GoValue is the literal's Go value: string, int64, float64, bool or nil.
func (v Value) GoValue() any {
	switch v.Kind {
	case String:
		return v.S
	case Int:
		return v.I
	case Float:
		return v.F
	case Bool:
		return v.B
	}
	return nil
}

// Args collects positional parameters; Add returns the placeholder ("$3"). Start it at the
// number of parameters the surrounding query already uses (Args{N: 2} → first Add gives "$3").
// Values holds only the parameters added here.
type Args struct {
	N      int
	Values []any
}

// Add appends v and returns its placeholder.
func (a *Args) Add(v any) string {
	a.N++
	a.Values = append(a.Values, v)
	return "$" + strconv.Itoa(a.N)
}

// Error is a filter or order parsing error. Error() starts with "Query filter parsing error: "
// or "Query ordering parsing error: " and names the offending token or field.
type Error struct {
	Order bool   // an ordering error (otherwise a filter error)
	Field string // the unknown or offending field name, when there is one
	Token string // the offending token, when there is one
	Pos   int    // byte offset of the problem in the expression (-1 if not positional)
	Msg   string // the message after the prefix
}

func (e *Error) Error() string {
	if e.Order {
		return "Query ordering parsing error: " + e.Msg
	}
	return "Query filter parsing error: " + e.Msg
}

func filterErr(pos int, token, format string, a ...any) *Error {
	return &Error{Pos: pos, Token: token, Msg: fmt.Sprintf(format, a...)}
}

// ruleErr words an error about a condition the way Backend.AI's parser reports it.
func ruleErr(order bool, field, msg string) *Error {
	rule := "binary_expr"
	if order {
		rule = "col"
	}
	return &Error{Order: order, Field: field, Pos: -1, Msg: fmt.Sprintf("Error trying to process rule %q:\n\n%s", rule, msg)}
}

func unknownField(order bool, name string) *Error {
	return ruleErr(order, name, fmt.Sprintf("('Unknown/unsupported field name', '%s')", name))
}
