package resolver

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/functions/gql/generated"
	"github.com/hangar-run/hangar/internal/minilang"
)

// typedFields refuses a filterable name without a converter, so such a table stops the
// package from loading; names that cannot be filtered need none.
func TestTypedFieldsRefusesFieldWithoutConverter(t *testing.T) {
	require.PanicsWithValue(t, "gql: filter field name has no converter", func() {
		typedFields(minilang.Fields{"id": {Column: "t.id", Convert: minilang.AsInt}, "name": {Column: "t.name"}})
	})
	require.NotPanics(t, func() {
		typedFields(minilang.Fields{"slots": {Column: "t.slots", NoFilter: true}})
	})
}

// Every filter/order table of the package is built through typedFields (this test loading
// proves those tables have converters): each minilang.Fields literal of the package's source
// is typedFields' argument.
func TestEveryFilterTableIsTyped(t *testing.T) {
	files, err := filepath.Glob("*.go")
	require.NoError(t, err)
	fset := token.NewFileSet()
	tables := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		require.NoError(t, err)
		wrapped := map[ast.Expr]bool{}
		ast.Inspect(f, func(n ast.Node) bool {
			if call, ok := n.(*ast.CallExpr); ok {
				if id, ok := call.Fun.(*ast.Ident); ok && id.Name == "typedFields" && len(call.Args) == 1 {
					wrapped[call.Args[0]] = true
				}
			}
			return true
		})
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.CompositeLit)
			if !ok {
				return true
			}
			if sel, ok := lit.Type.(*ast.SelectorExpr); ok && sel.Sel.Name == "Fields" {
				if x, ok := sel.X.(*ast.Ident); ok && x.Name == "minilang" {
					tables++
					require.True(t, wrapped[lit], "%s: a filter table not built through typedFields", fset.Position(lit.Pos()))
				}
			}
			return true
		})
	}
	require.GreaterOrEqual(t, tables, 6, "the package's tables were not found")
	// The tables the package uses, loaded: each filterable name has a converter.
	for _, fields := range []minilang.Fields{sessionFields, containerFields, keypairFields, userFields,
		agentFields, agentSummaryFields, sessionFieldsNoAgents, containerFieldsNoAgents} {
		for name, f := range fields {
			require.True(t, f.NoFilter || f.Convert != nil, name)
		}
	}
}

// The tables of callers the agents are hidden from lack every name identifying an agent and
// keep the others.
func TestNoAgentTables(t *testing.T) {
	for _, name := range agentFieldNames {
		require.NotContains(t, sessionFieldsNoAgents, name)
		require.NotContains(t, containerFieldsNoAgents, name)
	}
	require.Contains(t, sessionFieldsNoAgents, "status")
	require.Len(t, sessionFieldsNoAgents, len(sessionFields)-3)
	require.Len(t, containerFieldsNoAgents, len(containerFields)-2)
}

// Every nested field of the list row types that a resolver answers from a loader is
// prefetched by the lists (prefetch.go), or needs no lookup: a new field served by a loader
// must be added to the prefetch too, or a page's queries would grow with its rows.
func TestPrefetchCoversEveryResolvedField(t *testing.T) {
	covered := map[reflect.Type][]string{
		reflect.TypeFor[generated.ComputeSessionResolver](): append([]string{
			"group_name", "user_email", "full_name", "dependencies",
			"idle_checks", // constant
		}, sessionKernelFields...),
		reflect.TypeFor[generated.KeyPairResolver](): {
			"projects", "user_info", "concurrency_used", "compute_sessions",
			"vfolders", // constant
		},
		reflect.TypeFor[generated.UserResolver]():  {"groups"},
		reflect.TypeFor[generated.AgentResolver](): {"compute_containers"},
		reflect.TypeFor[generated.ImageResolver](): {"aliases"},
	}
	squash := func(s string) string { return strings.ToLower(strings.ReplaceAll(s, "_", "")) }
	for typ, fields := range covered {
		known := map[string]bool{}
		for _, f := range fields {
			known[squash(f)] = true
		}
		for i := range typ.NumMethod() {
			m := typ.Method(i).Name
			require.True(t, known[squash(m)], "%s.%s is resolved but neither prefetched nor known to need no lookup", typ.Name(), m)
		}
	}
}
