package functions

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"testing"

	"github.com/danielgtaylor/huma/v2"
	"github.com/stretchr/testify/require"
)

// testAliases mirrors a Backend.AI schema: three names of one key, a nested object's key.
var testAliases = Aliases{ //nolint:gochecknoglobals // read-only
	{"name", "session_name", "clientSessionToken"},
	{"cluster_size", "clusterSize"},
	{"config.scaling_group", "scalingGroup"},
}

func TestNormalizeBody(t *testing.T) {
	t.Parallel()
	table := compileAliases(testAliases)
	cases := []struct {
		name, in, want string
		renamed        map[string]string
	}{
		{"canonical only: untouched", `{"name": "a"}`, `{"name": "a"}`, map[string]string{}},
		{"alias renamed", `{"clientSessionToken":"a","clusterSize":2}`, `{"cluster_size":2,"name":"a"}`,
			map[string]string{"name": "clientSessionToken", "cluster_size": "clusterSize"}},
		{"the first name of the list wins, the others are dropped", `{"clientSessionToken":"c","session_name":"b","name":"a"}`,
			`{"name":"a"}`, map[string]string{}},
		{"an earlier alias beats a later one", `{"clientSessionToken":"c","session_name":"b"}`, `{"name":"b"}`,
			map[string]string{"name": "session_name"}},
		{"null counts as given", `{"name":null,"session_name":"b"}`, `{"name":null}`, map[string]string{}},
		{"the loser is not validated", `{"clusterSize":"x","cluster_size":1}`, `{"cluster_size":1}`, map[string]string{}},
		{"nested", `{"config":{"scalingGroup":"g","environ":{}}}`, `{"config":{"environ":{},"scaling_group":"g"}}`,
			map[string]string{"config.scaling_group": "config.scalingGroup"}},
		{"nested not an object", `{"config":"x","session_name":"a"}`, `{"config":"x","name":"a"}`,
			map[string]string{"name": "session_name"}},
		{"not an object", `[1,2]`, `[1,2]`, map[string]string{}},
		{"not JSON", `{"name":`, `{"name":`, map[string]string{}},
		{"numbers keep their text", `{"clusterSize":1.50000000000000000001}`, `{"cluster_size":1.50000000000000000001}`,
			map[string]string{"cluster_size": "clusterSize"}},
	}
	for _, c := range cases {
		out, renamed := normalizeBody([]byte(c.in), table)
		if json.Valid([]byte(c.want)) {
			require.JSONEq(t, c.want, string(out), c.name)
		} else {
			require.Equal(t, c.want, string(out), c.name)
		}
		require.Equal(t, c.renamed, renamed, c.name)
	}
	out, renamed := normalizeBody([]byte(`{"session_name":"a"}`), nil)
	require.JSONEq(t, `{"session_name":"a"}`, string(out), "no table, no change")
	require.Nil(t, renamed)
}

func TestNormalizeQuery(t *testing.T) {
	t.Parallel()
	q, renamed := normalizeQuery(url.Values{"session_name": {"b"}, "clientSessionToken": {"c"}, "other": {"x"}},
		compileAliases(testAliases))
	require.Equal(t, url.Values{"name": {"b"}, "other": {"x"}}, q)
	require.Equal(t, map[string]string{"name": "session_name"}, renamed)
}

func TestGivenNames(t *testing.T) {
	t.Parallel()
	ctx := &paramsContext{bodyContext{renamed: map[string]string{"cluster_size": "clusterSize", "config.scaling_group": "config.scalingGroup"}}}
	errs := []error{
		&huma.ErrorDetail{Location: "body.cluster_size", Message: "m"},
		&huma.ErrorDetail{Location: "body.config.scaling_group", Message: "m"},
		&huma.ErrorDetail{Location: "body.config.environ", Message: "m"},
		&huma.ErrorDetail{Location: "body.cluster_size_x", Message: "m"},
		errors.New("other"),
	}
	out := givenNames(ctx, errs)
	var locs []string
	for _, e := range out[:4] {
		var d *huma.ErrorDetail
		require.ErrorAs(t, e, &d)
		locs = append(locs, d.Location)
	}
	require.Equal(t, []string{"body.clusterSize", "body.config.scalingGroup", "body.config.environ", "body.cluster_size_x"}, locs)
	require.Equal(t, "other", out[4].Error())
	require.Equal(t, "body.cluster_size", errs[0].(*huma.ErrorDetail).Location, "the input is not modified") //nolint:errorlint // built above
}

func TestCompileAliasesRefusesMalformedTables(t *testing.T) {
	t.Parallel()
	for _, a := range []Aliases{
		{{"name"}},
		{{"name", "a"}, {"other", "a"}},
		{{"name", "a.b"}},
		{{"name", ""}},
	} {
		require.Panics(t, func() { compileAliases(a) }, "%v", a)
	}
	require.Nil(t, compileAliases(nil))
}

type aliasTestInput struct {
	Body struct {
		Name *string `json:"name,omitempty"`
	}
}

func TestFinalizeDocumentsAliases(t *testing.T) {
	t.Parallel()
	s := NewServer(&Deps{})
	huma.Register(s.API(), Op(OpSpec{ID: "alias-test", Method: "POST", Path: "/alias-test", Tag: "t", Params: true,
		Aliases: Aliases{{"name", "session_name", "sessionName"}}}),
		func(context.Context, *aliasTestInput) (*struct{}, error) { return nil, nil })
	s.Finalize()
	sch := s.bodySchema(s.api.OpenAPI().Paths["/alias-test"].Post)
	require.Equal(t, []string{"session_name", "sessionName"}, sch.Properties["name"].Extensions["x-aliases"])
	require.Equal(t, "name", sch.Properties["sessionName"].Extensions["x-alias-of"])
	require.Equal(t, "Alias of name.", sch.Properties["session_name"].Description)
	require.Equal(t, "SessionNameSnake", sch.Properties["session_name"].Extensions["x-go-name"])

	bad := NewServer(&Deps{})
	huma.Register(bad.API(), Op(OpSpec{ID: "alias-bad", Method: "POST", Path: "/alias-bad", Tag: "t", Params: true,
		Aliases: Aliases{{"nme", "session_name"}}}),
		func(context.Context, *aliasTestInput) (*struct{}, error) { return nil, nil })
	require.Panics(t, bad.Finalize, "a table naming a key the body lacks")
}
