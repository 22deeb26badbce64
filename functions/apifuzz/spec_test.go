package apifuzz_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// schema is the part of an OpenAPI 3.1 schema object the generator reads.
type schema struct {
	Ref                  string             `json:"$ref"`
	Type                 schemaType         `json:"type"`
	Properties           map[string]*schema `json:"properties"`
	Required             []string           `json:"required"`
	Items                *schema            `json:"items"`
	AdditionalProperties json.RawMessage    `json:"additionalProperties"`
	Enum                 []json.RawMessage  `json:"enum"`
	Examples             []json.RawMessage  `json:"examples"`
	Default              json.RawMessage    `json:"default"`
	Format               string             `json:"format"`
	OneOf                []*schema          `json:"oneOf"`
	AnyOf                []*schema          `json:"anyOf"`
}

// schemaType is "type": a string, or a list such as ["string", "null"].
type schemaType []string

func (t *schemaType) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*t = schemaType{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*t = many
	return nil
}

// main is the first non-null type, or "".
func (t schemaType) main() string {
	for _, s := range t {
		if s != "null" {
			return s
		}
	}
	return ""
}

type parameter struct {
	Name     string  `json:"name"`
	In       string  `json:"in"`
	Required bool    `json:"required"`
	Schema   *schema `json:"schema"`
}

type mediaType struct {
	Schema *schema `json:"schema"`
}

type operation struct {
	ID          string                `json:"operationId"`
	Parameters  []parameter           `json:"parameters"`
	Security    []map[string][]string `json:"security"`
	RequestBody *struct {
		Required bool                 `json:"required"`
		Content  map[string]mediaType `json:"content"`
	} `json:"requestBody"`

	// Filled by loadSpec.
	Method string `json:"-"`
	Path   string `json:"-"`
}

// scope is the least role the operation needs ("" for public operations).
func (o *operation) scope() string {
	for _, req := range o.Security {
		for _, scopes := range req {
			if len(scopes) > 0 {
				return scopes[0]
			}
		}
	}
	return ""
}

// jsonBody is the operation's JSON body schema, or nil.
func (o *operation) jsonBody() *schema {
	if o.RequestBody == nil {
		return nil
	}
	if mt, ok := o.RequestBody.Content["application/json"]; ok {
		return mt.Schema
	}
	return nil
}

// multipart reports whether the operation takes a multipart body.
func (o *operation) multipart() bool {
	if o.RequestBody == nil {
		return false
	}
	_, ok := o.RequestBody.Content["multipart/form-data"]
	return ok
}

func (o *operation) params(in string) []parameter {
	var out []parameter
	for _, p := range o.Parameters {
		if p.In == in {
			out = append(out, p)
		}
	}
	return out
}

type spec struct {
	Paths      map[string]map[string]json.RawMessage `json:"paths"`
	Components struct {
		Schemas map[string]*schema `json:"schemas"`
	} `json:"components"`
	ops []*operation
}

// resolve follows a $ref (one level at a time, until none is left).
func (s *spec) resolve(sch *schema) *schema {
	for sch != nil && sch.Ref != "" {
		sch = s.Components.Schemas[strings.TrimPrefix(sch.Ref, "#/components/schemas/")]
	}
	return sch
}

var httpMethods = []string{"get", "put", "post", "delete", "patch", "head", "options"} //nolint:gochecknoglobals // read-only

// repoRoot is the module root, found from this file's location.
func repoRoot(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	require.True(t, ok)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// loadSpec reads the committed OpenAPI document and lists its operations sorted by path and
// method.
func loadSpec(t testing.TB) *spec {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repoRoot(t), "openapi", "openapi.json"))
	require.NoError(t, err)
	var s spec
	require.NoError(t, json.Unmarshal(raw, &s))
	for path, item := range s.Paths {
		for _, m := range httpMethods {
			rawOp, ok := item[m]
			if !ok {
				continue
			}
			var op operation
			require.NoError(t, json.Unmarshal(rawOp, &op), "%s %s", m, path)
			op.Method, op.Path = strings.ToUpper(m), path
			s.ops = append(s.ops, &op)
		}
	}
	slices.SortFunc(s.ops, func(a, b *operation) int {
		if c := strings.Compare(a.Path, b.Path); c != 0 {
			return c
		}
		return strings.Compare(a.Method, b.Method)
	})
	require.NotEmpty(t, s.ops)
	return &s
}
