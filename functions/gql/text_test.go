package gql_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/functions/functionstest"
)

// The captured documents hold no NUL; a NUL anywhere in a request is text no row can hold,
// refused as 400 invalid-api-params naming where it is: in the JSON body (query or variables)
// as in every operation, and in a GraphQL string literal written with the "\u0000" escape,
// which the body check cannot see and which would otherwise reach PostgreSQL as an opaque
// database error. "\\u0000" (a backslash, then text) is fine.
func TestNULCharacters(t *testing.T) {
	env := functionstest.New(t)
	for _, doc := range []string{kpPolicyListDoc, domainListDoc, userInfoDoc, groupListDoc, userListDoc,
		psKeypairDoc, psListDoc, keypairInfoDoc, sessionInfoDoc, keypairListDoc} {
		require.NotContains(t, doc, "\x00")
	}
	for _, c := range []struct{ body, key string }{
		{`{"query": "query { keypair_resource_policies { name }}\u0000", "variables": {}}`, "query"},
		{`{"query": "query($n: String) { keypair_resource_policy(name: $n) { name }}", "variables": {"n": "a\u0000b"}}`, "variables.n"},
		{`{"query": "query { keypair_resource_policy(name: \"a\\u0000b\") { name }}"}`, "query"},
		{`{"query": "query($n: String = \"\\u0000\") { keypair_resource_policy(name: $n) { name }}"}`, "query"},
		{`{"query": "query { keypairs(email: \"\"\"x\"\"\", is_active: true) { access_key @include(if: true) ... on KeyPair { compute_sessions(status: \"\\u0000\") { id } } } }"}`, "query"},
		{`{"query": "query { ...F } fragment F on Queries { user(email: \"\\u0000\") { email } }"}`, "query"},
		{`{"query": "mutation { delete_keypair(access_key: \"\\u0000\") { ok } }"}`, "query"},
	} {
		res := env.Do(t, http.MethodPost, "/admin/gql", c.body, sa)
		res.RequireProblem(t, http.StatusBadRequest, "invalid-api-params")
		require.Contains(t, string(res.Body), `"data":{"`+c.key+`":"NUL character not allowed"}`, c.body)
		env.Do(t, http.MethodPost, "/admin/graphql", c.body, sa).RequireProblem(t, http.StatusBadRequest, "invalid-api-params")
	}
	r := post(t, env, sa, `query { keypair_resource_policy(name: "a\\u0000b") { name } }`, `{}`)
	require.Empty(t, r.Errors, r.Raw)
	require.JSONEq(t, `null`, string(r.Data["keypair_resource_policy"]))
}
