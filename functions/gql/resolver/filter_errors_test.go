package resolver

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/internal/dbtest"
	"github.com/hangar-run/hangar/internal/minilang"
)

// A filter that passes the parser but fails in the database on a value of the wrong type
// (SQLSTATE class 22, or a value the driver cannot encode for its column) is a filter
// parsing error quoting the filter, which the client sees as a GraphQL error; any other
// failure, and every failure of a list without a filter, stays a database error.
func TestFilterFailureAtRunTime(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.NewDatabase(t).Pool
	_, err := pool.Exec(ctx, `CREATE TABLE ff (id int PRIMARY KEY, n int, meta jsonb);
		INSERT INTO ff VALUES (1, 1, '{"k": "x"}'), (2, 2, '{"k": "3"}')`)
	require.NoError(t, err)
	// Fields without converters, so the literals reach the database as written.
	q := func() *listQuery {
		return &listQuery{Select: "ff.id", From: "ff", Tiebreak: "ff.id", Fields: minilang.Fields{
			"n": {Column: "ff.n"}, "k": {Column: "ff.meta", JSONKey: "k"},
		}}
	}
	type row struct{ ID int }
	for filter, want := range map[string]string{
		`k == 3`:           "invalid input syntax for type numeric", // SQLSTATE 22P02
		`n == "abc"`:       "invalid input syntax for type integer",
		`n == 99999999999`: "a value does not fit the type of its field", // pgx: out of int4's range
		`n == true`:        "a value does not fit the type of its field",
		`n == 1 & k == 3`:  "invalid input syntax for type numeric",
	} {
		_, _, err := runList[row](ctx, pool, q(), 10, 0, &filter, nil)
		me, ok := minilang.AsError(err)
		require.True(t, ok, "filter %s: %v", filter, err)
		require.Contains(t, me.Error(), "Query filter parsing error: "+want, filter)
		require.Contains(t, me.Error(), "(filter `"+filter+"`)")
	}
	ok := `n == 2`
	items, total, err := runList[row](ctx, pool, q(), 10, 0, &ok, nil)
	require.NoError(t, err)
	require.Equal(t, 1, total)
	require.Equal(t, 2, items[0].ID)

	// Other failures, and any failure of a list without a filter, stay database errors.
	bad := func() *listQuery {
		b := q()
		b.where("CAST(ff.meta ->> 'k' AS numeric) > ?", 0) // fails on "x": a data exception
		return b
	}
	_, _, err = runList[row](ctx, pool, bad(), 10, 0, nil, nil)
	require.Error(t, err)
	_, isFilter := minilang.AsError(err)
	require.False(t, isFilter, "no filter to blame: %v", err)
	blank := "  "
	_, _, err = runList[row](ctx, pool, bad(), 10, 0, &blank, nil)
	_, isFilter = minilang.AsError(err)
	require.False(t, isFilter, "a blank filter is no filter: %v", err)
	missing := q()
	missing.From = "ff_missing"
	filter := `n == 1`
	_, _, err = runList[row](ctx, pool, missing, 10, 0, &filter, nil)
	require.Error(t, err)
	_, isFilter = minilang.AsError(err)
	require.False(t, isFilter, "an undefined table is not the filter's fault: %v", err)
}
