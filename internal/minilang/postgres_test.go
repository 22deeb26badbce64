package minilang_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/internal/dbtest"
	"github.com/hangar-run/hangar/internal/minilang"
)

// TestPostgres runs compiled filters and orderings on a small table in a private database,
// so the SQL is valid PostgreSQL and the bound values have the types the columns need.
func TestPostgres(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	pool := dbtest.NewDatabase(t).Pool
	_, err := pool.Exec(ctx, `
CREATE TYPE ml_status AS ENUM ('RUNNING', 'PENDING', 'TERMINATED');
CREATE TABLE ml (
	id int PRIMARY KEY, name text, status ml_status, n int, f double precision, ok boolean,
	tags text[], meta jsonb, created timestamptz, u uuid);
INSERT INTO ml VALUES
 (1, 'alpha', 'RUNNING', 1, 1.5, true, '{a,b}',
  '{"k": "x", "SCHEDULED": "2024-03-01T00:00:00+00:00"}', '2024-01-01T00:00:00Z', '9b4b0e51-3a36-4c8e-9f1a-2f0c2c7e8a11'),
 (2, 'beta 50%', 'PENDING', 2, 2.5, false, '{c}', '{"k": "y"}', '2024-02-01T00:00:00Z', '1c9f3f5e-7d2a-4b8e-8f00-000000000002'),
 (3, 'Gamma_x', 'TERMINATED', NULL, NULL, NULL, NULL, NULL, '2024-03-01T00:00:00Z', NULL),
 (4, 'quote"d', 'RUNNING', 4, 4, true, '{}', '{}', '2024-04-01T00:00:00Z', NULL);
`)
	require.NoError(t, err)

	fields := minilang.Fields{
		"id":           {Column: "ml.id"},
		"name":         {Column: "ml.name"},
		"status":       {Column: "ml.status", Convert: minilang.EnumNames("RUNNING", "PENDING", "TERMINATED")},
		"n":            {Column: "ml.n"},
		"f":            {Column: "ml.f"},
		"ok":           {Column: "ml.ok", Convert: minilang.AsBool},
		"ok_flag":      {Column: "ml.ok", Bool: true},
		"tags":         {Column: "ml.tags", Array: true},
		"k":            {Column: "ml.meta", JSONKey: "k"},
		"scheduled_at": {Column: "ml.meta", JSONKey: "SCHEDULED", Convert: minilang.Timestamp},
		"created_at":   {Column: "ml.created", Convert: minilang.Timestamp},
		"u":            {Column: "ml.u", Convert: minilang.UUID},
		"upper_name":   {Column: "ml.name", OrderExpr: "upper(ml.name)", NoFilter: true},
	}
	ids := func(where, order string, args []any) []int {
		t.Helper()
		q := "SELECT id FROM ml"
		if where != "" {
			q += " WHERE id > $1 AND " + where
		} else {
			q += " WHERE id > $1"
		}
		if order != "" {
			q += " ORDER BY " + order + ", id"
		} else {
			q += " ORDER BY id"
		}
		rows, err := pool.Query(ctx, q, append([]any{0}, args...)...)
		require.NoError(t, err, q)
		defer rows.Close()
		var out []int
		for rows.Next() {
			var id int
			require.NoError(t, rows.Scan(&id))
			out = append(out, id)
		}
		require.NoError(t, rows.Err(), q)
		return out
	}

	for _, tc := range []struct {
		filter string
		want   []int
	}{
		{``, []int{1, 2, 3, 4}},
		{`status == "running"`, []int{1, 4}},
		{`status != "RUNNING"`, []int{2, 3}},
		{`status in ["pending", "TERMINATED"]`, []int{2, 3}},
		{`n > 1 & n <= 4`, []int{2, 4}},
		{`n is null`, []int{3}},
		{`n == null`, []int{3}},
		{`n isnot null`, []int{1, 2, 4}},
		{`n in [1, 4, 99]`, []int{1, 4}},
		{`ok is true`, []int{1, 4}},
		{`ok isnot true`, []int{2, 3}},
		{`ok == false`, []int{2}},
		{`ok_flag isnot false`, []int{1, 3, 4}},
		{`f > 2`, []int{2, 4}},
		{`f == 1.5`, []int{1}},
		{`name contains "50%"`, []int{2}},
		{`name contains "%"`, []int{2}},
		{`name contains "_"`, []int{3}},
		{`name like "%a"`, []int{1}},
		{`name like "Gamma_x"`, []int{3}},
		{`name ilike "gamma%"`, []int{3}},
		{`name == "quote\"d"`, []int{4}},
		{`name in ["alpha", "Gamma_x"]`, []int{1, 3}},
		{`status contains "UN"`, []int{1, 4}},
		{`u contains "9b4b"`, []int{1}},
		{`tags == "a"`, []int{1}},
		{`tags in ["c", "z"]`, []int{2}},
		{`tags contains "b"`, []int{1}},
		{`tags is null`, []int{3}},
		{`k == "x"`, []int{1}},
		{`k isnot null`, []int{1, 2}},
		{`k like "%"`, []int{1, 2}},
		{`scheduled_at >= "2024-02-01"`, []int{1}},
		{`created_at >= "2024-02-01T00:00:00+00:00"`, []int{2, 3, 4}},
		{`created_at < "2024-01-15"`, []int{1}},
		{`created_at == "2024-03-01T09:00:00+09:00"`, []int{3}},
		{`u == "9b4b0e51-3a36-4c8e-9f1a-2f0c2c7e8a11"`, []int{1}},
		{`u in ["9B4B0E51-3A36-4C8E-9F1A-2F0C2C7E8A11", "1c9f3f5e-7d2a-4b8e-8f00-000000000002"]`, []int{1, 2}},
		{`status == "RUNNING" & n == 4 | n == 1`, []int{1, 4}},
		{`(status == "PENDING" & n == 2) | n == 4`, []int{2, 4}},
		{`!status == "RUNNING" & n == 4`, []int{1, 2, 3}},
		{`!(status == "RUNNING") & n isnot null`, []int{2, 3}}, // ! still covers the rest
		{`(!status == "RUNNING") & n isnot null`, []int{2}},
		{`name in []`, nil},
	} {
		args := minilang.Args{N: 1}
		where, err := minilang.CompileFilter(tc.filter, fields, &args)
		require.NoError(t, err, tc.filter)
		require.Equal(t, tc.want, ids(where, "", args.Values), "%s → %s %v", tc.filter, where, args.Values)
	}

	for _, tc := range []struct {
		order string
		want  []int
	}{
		{`-n`, []int{3, 4, 2, 1}},
		{`+status,-id`, []int{4, 1, 2, 3}},
		{`k`, []int{1, 2, 3, 4}},
		{`-created_at`, []int{4, 3, 2, 1}},
		{`upper_name`, []int{1, 2, 3, 4}},
		{`-tags`, []int{3, 2, 1, 4}},
	} {
		order, err := minilang.CompileOrder(tc.order, fields)
		require.NoError(t, err, tc.order)
		require.Equal(t, tc.want, ids("", order, nil), "%s → %s", tc.order, order)
	}
}
