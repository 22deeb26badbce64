package minilang

import (
	"strconv"
	"strings"
)

// CompileOrder parses "[+|-]name(,[+|-]name)*" and returns "col ASC, col2 DESC" ("" for "").
// Whitespace around names and signs is ignored.
func CompileOrder(expr string, fields Fields) (string, error) {
	if err := checkText(expr, true); err != nil {
		return "", err
	}
	if strings.TrimSpace(expr) == "" {
		return "", nil
	}
	orderErr := func(pos int, tok, msg string) *Error {
		return &Error{Order: true, Pos: pos, Token: tok, Msg: msg}
	}
	var out []string
	i := 0
	skip := func() {
		for i < len(expr) && isSpace(expr[i]) {
			i++
		}
	}
	for {
		skip()
		dir := "ASC"
		if i < len(expr) && (expr[i] == '+' || expr[i] == '-') {
			if expr[i] == '-' {
				dir = "DESC"
			}
			i++
			skip()
		}
		start := i
		if i >= len(expr) || !isNameStart(expr[i]) {
			if i >= len(expr) {
				return "", orderErr(i, "", "Unexpected end of input at "+position(expr, i)+". Expected a field name")
			}
			tok := string([]rune(expr[i:])[:1])
			return "", orderErr(i, tok, "Unexpected character "+strconv.Quote(tok)+" at "+position(expr, i)+". Expected a field name")
		}
		for i < len(expr) && isNameChar(expr[i]) {
			i++
		}
		name := expr[start:i]
		f, ok := fields[name]
		col := f.OrderExpr
		if col == "" {
			col = jsonOperand(f.Column, f.JSONKey, nil)
		}
		if !ok || f.NoOrder || col == "" {
			return "", unknownField(true, name)
		}
		out = append(out, col+" "+dir)
		skip()
		if i >= len(expr) {
			break
		}
		if expr[i] != ',' {
			tok := string([]rune(expr[i:])[:1])
			return "", orderErr(i, tok, "Unexpected character "+strconv.Quote(tok)+" at "+position(expr, i)+`. Expected "," or the end of the expression`)
		}
		i++
	}
	return strings.Join(out, ", "), nil
}
