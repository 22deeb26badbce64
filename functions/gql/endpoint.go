package gql

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/executor"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/danielgtaylor/huma/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/functions/gql/generated"
	"github.com/hangar-run/hangar/functions/gql/resolver"
)

// IntrospectionKey is the etcd key (under the namespace) that turns schema introspection on
// (Backend.AI's api.allow-graphql-schema-introspection; off by default).
const IntrospectionKey = "config/api/allow-graphql-schema-introspection"

// Limits on one document. The largest client document (session info) nests three levels and
// asks for well under a hundred fields; these bounds leave room for any real client while a
// hostile document is refused before it runs.
const (
	// MaxBodyBytes bounds the request body.
	MaxBodyBytes = 256 << 10
	// MaxDepth bounds the nesting of selection sets.
	MaxDepth = 12
	// MaxComplexity bounds the sum over the document of each field's cost, a list field's
	// cost being its page size times its items' cost.
	MaxComplexity = 200_000
	// MaxTokens bounds the document's lexical tokens (aliases, fields, arguments).
	MaxTokens = 20_000
)

// Register adds POST /admin/gql and POST /admin/graphql.
func Register(s *functions.Server) {
	ex := newExecutor(s.Deps())
	type input struct {
		RawBody []byte `contentType:"application/json"`
	}
	type output struct {
		ContentType string `header:"Content-Type"`
		Body        json.RawMessage
	}
	desc := "Backend.AI's GraphQL admin API. The body is `{\"query\", \"variables\", \"operation_name\"|\"operationName\"}`; " +
		"names are snake_case as in Backend.AI's schema. Any authenticated keypair may call it; each root field " +
		"applies its own role scoping (a user sees their own objects, a domain admin their domain, a superadmin everything)."
	huma.Register(s.API(), rawJSON(functions.OpSpec{
		ID: "graphql", Method: http.MethodPost, Path: "/admin/gql", Tag: "graphql",
		Summary:      "GraphQL query or mutation",
		Description:  desc + " The answer is always 200 `{\"data\", \"errors\"?}`; GraphQL errors carry `message`, `locations` and, for resolver errors, `path`.",
		Role:         functions.User,
		MaxBodyBytes: MaxBodyBytes,
	}), func(ctx context.Context, in *input) (*output, error) {
		res, err := ex.run(ctx, in.RawBody)
		if err != nil {
			return nil, err
		}
		b, _ := json.Marshal(res)
		return &output{ContentType: "application/json; charset=utf-8", Body: b}, nil
	})
	huma.Register(s.API(), rawJSON(functions.OpSpec{
		ID: "graphql-legacy", Method: http.MethodPost, Path: "/admin/graphql", Tag: "graphql",
		Summary:      "GraphQL query or mutation (legacy answer)",
		Description:  desc + " The answer is the bare data object; any error answers 400 `graphql-error` whose `data` lists the GraphQL errors.",
		Role:         functions.User,
		MaxBodyBytes: MaxBodyBytes,
	}), func(ctx context.Context, in *input) (*output, error) {
		res, err := ex.run(ctx, in.RawBody)
		if err != nil {
			return nil, err
		}
		if len(res.Errors) > 0 {
			return nil, &functions.Problem{
				Status: http.StatusBadRequest, Type: functions.ProblemBase + "graphql-error",
				Title: "GraphQL-generated error.", Data: res.Errors,
			}
		}
		data := res.Data
		if len(data) == 0 {
			data = json.RawMessage("null")
		}
		return &output{ContentType: "application/json; charset=utf-8", Body: data}, nil
	})
}

// rawJSON is the operation of spec whose JSON body the handler reads itself (Backend.AI's
// parameter rules for GraphQL bodies, see parseBody).
func rawJSON(spec functions.OpSpec) huma.Operation {
	op := functions.Op(spec)
	op.SkipValidateBody = true
	return op
}

// errorObject is a GraphQL error as Backend.AI's manager writes it (never "extensions").
type errorObject struct {
	Message   string              `json:"message"`
	Locations []gqlerror.Location `json:"locations,omitempty"`
	Path      ast.Path            `json:"path,omitempty"`
}

// envelope is the /admin/gql answer.
type envelope struct {
	Data   json.RawMessage `json:"data"`
	Errors []errorObject   `json:"errors,omitempty"`
}

type gqlExecutor struct {
	deps *functions.Deps
	exec *executor.Executor
}

func newExecutor(deps *functions.Deps) *gqlExecutor {
	cfg := generated.Config{Resolvers: &resolver.Resolver{Deps: deps}}
	resolver.SetComplexity(&cfg.Complexity)
	ex := executor.New(generated.NewExecutableSchema(cfg))
	ex.SetParserTokenLimit(MaxTokens)
	ex.Use(extension.FixedComplexityLimit(MaxComplexity))
	ex.Use(depthLimit{max: MaxDepth})
	ex.SetRecoverFunc(func(ctx context.Context, err any) error {
		deps.Log().ErrorContext(ctx, "graphql resolver panic", "panic", fmt.Sprint(err))
		return errors.New("internal server error")
	})
	ex.SetErrorPresenter(resolver.PresentError)
	return &gqlExecutor{deps: deps, exec: ex}
}

// request is the parsed body.
type request struct {
	Query         string
	Variables     map[string]any
	OperationName string
}

// parseBody applies Backend.AI's parameter rules: query (string) is required, variables is an
// object or null, operation_name/operationName a string or null, and no other key is allowed.
func parseBody(body []byte) (*request, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil || raw == nil {
		return nil, functions.ErrInvalidAPIParams("Malformed body", nil)
	}
	req := &request{}
	bad := func(key, why string) error {
		return functions.ErrInvalidAPIParams(key+": "+why, map[string]string{key: why})
	}
	isNull := func(v json.RawMessage) bool { return bytes.Equal(bytes.TrimSpace(v), []byte("null")) }
	for k, v := range raw {
		switch k {
		case "query":
			if err := json.Unmarshal(v, &req.Query); err != nil || isNull(v) {
				return nil, bad(k, "value is not a string")
			}
		case "variables":
			if isNull(v) {
				continue
			}
			dec := json.NewDecoder(bytes.NewReader(v))
			dec.UseNumber()
			if err := dec.Decode(&req.Variables); err != nil {
				return nil, bad(k, "value is not a dict")
			}
		case "operation_name", "operationName":
			if isNull(v) {
				continue
			}
			if err := json.Unmarshal(v, &req.OperationName); err != nil {
				return nil, bad(k, "value is not a string")
			}
		default:
			return nil, bad(k, "not allowed key")
		}
	}
	if _, ok := raw["query"]; !ok {
		return nil, bad("query", "is required")
	}
	return req, nil
}

// run executes the body's document. Only a body that breaks the parameter rules is an HTTP
// error; everything GraphQL is in the envelope.
func (e *gqlExecutor) run(ctx context.Context, body []byte) (*envelope, error) {
	req, err := parseBody(body)
	if err != nil {
		return nil, err
	}
	allow, _ := e.deps.Shared.Get(IntrospectionKey)
	params := &graphql.RawParams{Query: req.Query, Variables: req.Variables, OperationName: req.OperationName}
	ctx = graphql.StartOperationTrace(ctx)
	ctx = resolver.WithLoaders(ctx, e.deps)
	rc, errs := e.exec.CreateOperationContext(ctx, params)
	if errs != nil {
		resp := e.exec.DispatchError(graphql.WithOperationContext(ctx, rc), errs)
		return toEnvelope(resp), nil
	}
	if why := literalProblem(rc.Doc); why != "" {
		return nil, functions.ErrInvalidAPIParams("query: "+why, map[string]string{"query": why})
	}
	rc.DisableIntrospection = !truthy(allow)
	handler, ctx := e.exec.DispatchOperation(ctx, rc)
	resp := handler(ctx)
	return toEnvelope(resp), nil
}

func toEnvelope(resp *graphql.Response) *envelope {
	out := &envelope{Data: resp.Data}
	if len(out.Data) == 0 {
		out.Data = json.RawMessage("null")
	}
	for _, e := range resp.Errors {
		out.Errors = append(out.Errors, errorObject{Message: e.Message, Locations: e.Locations, Path: e.Path})
	}
	return out
}

// truthy reads a shared-config boolean as Backend.AI's ToBool does.
func truthy(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "1", "true", "yes", "on", "t", "y":
		return true
	}
	b, _ := strconv.ParseBool(v)
	return b
}

// depthLimit refuses documents whose selection sets nest deeper than max (fragments
// included), before anything runs.
type depthLimit struct{ max int }

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = depthLimit{}

func (depthLimit) ExtensionName() string                   { return "DepthLimit" }
func (depthLimit) Validate(graphql.ExecutableSchema) error { return nil }
func (d depthLimit) MutateOperationContext(_ context.Context, rc *graphql.OperationContext) *gqlerror.Error {
	if rc.Operation == nil {
		return nil
	}
	if depth(rc.Operation.SelectionSet, 0, d.max) > d.max {
		return gqlerror.Errorf("The query is nested deeper than %d levels.", d.max)
	}
	return nil
}

// depth is the nesting depth of set, giving up once it passes limit (so fragment cycles, which
// validation rejects anyway, cannot loop).
func depth(set ast.SelectionSet, level, limit int) int {
	if level > limit {
		return level
	}
	deepest := level
	for _, sel := range set {
		var d int
		switch s := sel.(type) {
		case *ast.Field:
			if len(s.SelectionSet) == 0 {
				d = level + 1
			} else {
				d = depth(s.SelectionSet, level+1, limit)
			}
		case *ast.InlineFragment:
			d = depth(s.SelectionSet, level, limit)
		case *ast.FragmentSpread:
			if s.Definition != nil {
				d = depth(s.Definition.SelectionSet, level, limit)
			}
		}
		if d > deepest {
			deepest = d
		}
	}
	return deepest
}
