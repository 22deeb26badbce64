package functions

import (
	"encoding/json"
	"math"
	"net/url"
	"testing"

	"github.com/danielgtaylor/huma/v2"
	"github.com/stretchr/testify/require"
)

// FuzzQueryToObject: Backend.AI parameters given in the query string become a JSON object whose
// values have the declared types (or stay strings for validation to refuse); the object
// encodes unless a number parsed to NaN or an infinity, which the middleware answers with 400.
func FuzzQueryToObject(f *testing.F) {
	for _, s := range []string{"flag=yes&n=3&x=1.5&ids=a,b&ids=c&s=null&o=null", "n=1e400&x=NaN&x=Inf", "flag=maybe&n=-9223372036854775809",
		"%ff=%fe&n=%00", "ids=&flag=&n=", "unknown=1&unknown=2"} {
		f.Add(s)
	}
	sch := &huma.Schema{Type: "object", Properties: map[string]*huma.Schema{
		"flag": {Type: "boolean"},
		"n":    {Type: "integer"},
		"x":    {Type: "number"},
		"ids":  {Type: "array", Items: &huma.Schema{Type: "integer"}},
		"s":    {Type: "string"},
		"o":    {Type: "string", Nullable: true},
		"alt":  {OneOf: []*huma.Schema{{Type: "null"}, {Type: "boolean"}}},
	}}
	f.Fuzz(func(t *testing.T, raw string) {
		q, _ := url.ParseQuery(raw)
		out := queryToObject(q, sch)
		require.Len(t, out, len(q))
		nonFinite := false
		for k, v := range out {
			switch schemaType(sch.Properties[k]) {
			case "boolean":
				switch v.(type) {
				case bool, string:
				default:
					t.Fatalf("%s: %T", k, v)
				}
			case "integer":
				switch v.(type) {
				case int64, string:
				default:
					t.Fatalf("%s: %T", k, v)
				}
			case "number":
				switch x := v.(type) {
				case float64:
					nonFinite = nonFinite || math.IsNaN(x) || math.IsInf(x, 0)
				case string:
				default:
					t.Fatalf("%s: %T", k, v)
				}
			case "array":
				require.IsType(t, []any{}, v)
			}
		}
		if _, err := json.Marshal(out); err != nil {
			require.True(t, nonFinite, "%q: %v", raw, err)
		}
	})
}
