package gql_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/functions/functionstest"
)

// is/isnot true/false is a filter parsing error naming the field on a column that is not
// boolean (it used to reach PostgreSQL and come back as an internal error), and still works
// on boolean ones, plain and computed.
func TestFilterIsTrueOnlyOnBooleanFields(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t)
	list := func(doc, name, filter string) result {
		t.Helper()
		return post(t, env, sa, doc, `{"filter": `+mustJSON(filter)+`, "order": null, "limit": 20, "offset": 0}`)
	}
	for _, tc := range []struct{ doc, list, filter, want string }{
		{userListDoc, "user_list", `email is true`, "field email, which is not boolean"},
		{userListDoc, "user_list", `status isnot false`, "field status, which is not boolean"},
		{userListDoc, "user_list", `created_at is true`, "field created_at, which is not boolean"},
		{keypairListDoc, "keypair_list", `rate_limit is false`, "field rate_limit, which is not boolean"},
		{keypairListDoc, "keypair_list", `user_id isnot true`, "field user_id, which is not boolean"},
		{userListDoc, "user_list", `email == "a" | full_name isnot true`, "field full_name, which is not boolean"},
	} {
		r := list(tc.doc, tc.list, tc.filter)
		require.Len(t, r.Errors, 1, "filter %s: %s", tc.filter, r.Raw)
		msg := r.Errors[0]["message"].(string)
		require.True(t, strings.HasPrefix(msg, "Query filter parsing error"), "filter %s: %s", tc.filter, msg)
		require.Contains(t, msg, tc.want, "filter %s", tc.filter)
		require.NotContains(t, msg, "Internal server error", "filter %s", tc.filter)
		require.Equal(t, []any{tc.list}, r.Errors[0]["path"])
	}
	// Boolean fields, plain and computed, take true and false.
	type page struct {
		TotalCount int `json:"total_count"`
	}
	active := field[page](t, list(userListDoc, "user_list", `is_active is true & need_password_change isnot true`), "user_list")
	require.Positive(t, active.TotalCount)
	inactive := field[page](t, list(userListDoc, "user_list", `is_active is false`), "user_list")
	all := field[page](t, list(userListDoc, "user_list", `email isnot null`), "user_list")
	require.Equal(t, all.TotalCount, active.TotalCount+inactive.TotalCount)
	require.Positive(t, field[page](t, list(keypairListDoc, "keypair_list", `is_active isnot false`), "keypair_list").TotalCount)
}
