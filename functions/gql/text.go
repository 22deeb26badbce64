package gql

import (
	"strings"
	"unicode/utf8"

	"github.com/vektah/gqlparser/v2/ast"
)

// literalProblem checks the string literals of a parsed document (field and directive
// arguments, variable defaults, in operations and fragments) as the API checks every JSON
// string: a literal PostgreSQL could not store, holding a NUL (written as the escape
// "\u0000", so the body itself passed) or invalid UTF-8, answers why; "" when all are clean.
func literalProblem(doc *ast.QueryDocument) string {
	if doc == nil {
		return ""
	}
	for _, op := range doc.Operations {
		for _, v := range op.VariableDefinitions {
			if p := valueProblem(v.DefaultValue); p != "" {
				return p
			}
		}
		if p := directivesProblem(op.Directives); p != "" {
			return p
		}
		if p := selectionProblem(op.SelectionSet); p != "" {
			return p
		}
	}
	for _, f := range doc.Fragments {
		if p := directivesProblem(f.Directives); p != "" {
			return p
		}
		if p := selectionProblem(f.SelectionSet); p != "" {
			return p
		}
	}
	return ""
}

func selectionProblem(set ast.SelectionSet) string {
	for _, sel := range set {
		var p string
		switch s := sel.(type) {
		case *ast.Field:
			if p = argumentsProblem(s.Arguments); p == "" {
				if p = directivesProblem(s.Directives); p == "" {
					p = selectionProblem(s.SelectionSet)
				}
			}
		case *ast.InlineFragment:
			if p = directivesProblem(s.Directives); p == "" {
				p = selectionProblem(s.SelectionSet)
			}
		case *ast.FragmentSpread:
			p = directivesProblem(s.Directives)
		}
		if p != "" {
			return p
		}
	}
	return ""
}

func directivesProblem(ds ast.DirectiveList) string {
	for _, d := range ds {
		if p := argumentsProblem(d.Arguments); p != "" {
			return p
		}
	}
	return ""
}

func argumentsProblem(args ast.ArgumentList) string {
	for _, a := range args {
		if p := valueProblem(a.Value); p != "" {
			return p
		}
	}
	return ""
}

func valueProblem(v *ast.Value) string {
	if v == nil {
		return ""
	}
	switch {
	case !utf8.ValidString(v.Raw):
		return "invalid UTF-8"
	case strings.IndexByte(v.Raw, 0) >= 0:
		return "NUL character not allowed"
	}
	for _, c := range v.Children {
		if p := valueProblem(c.Value); p != "" {
			return p
		}
	}
	return ""
}
