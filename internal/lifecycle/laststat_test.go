package lifecycle_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/dbtest"
	"github.com/hangar-run/hangar/internal/events"
	"github.com/hangar-run/hangar/internal/fixture"
	"github.com/hangar-run/hangar/internal/lifecycle"
)

// runningSession inserts a RUNNING session with one RUNNING kernel per slots entry and returns
// the session's and the kernels' ids.
func runningSession(t *testing.T, d *dbtest.Database, slots ...string) (uuid.UUID, []uuid.UUID) {
	t.Helper()
	ctx := context.Background()
	sid := uuid.New()
	_, err := d.Pool.Exec(ctx, `
		INSERT INTO sessions (id, name, domain_name, group_id, user_uuid, access_key, scaling_group_name, status)
		VALUES ($1::uuid, 'sess-' || left($1::text, 8), 'default', $2, $3, $4, 'default', 'RUNNING')`,
		sid, fixture.DefaultProjectID, fixture.UserUUID, fixture.UserAccessKey)
	require.NoError(t, err)
	var kids []uuid.UUID
	for i, s := range slots {
		role := "main"
		if i > 0 {
			role = "sub"
		}
		var kid uuid.UUID
		require.NoError(t, d.Pool.QueryRow(ctx, `
			INSERT INTO kernels (session_id, session_name, domain_name, group_id, user_uuid, access_key,
			                     scaling_group, status, cluster_role, cluster_idx, occupied_slots)
			SELECT id, name, domain_name, group_id, user_uuid, access_key, 'default', 'RUNNING', $2, $3, $4::jsonb
			FROM sessions WHERE id = $1 RETURNING id`, sid, role, i, s).Scan(&kid))
		kids = append(kids, kid)
	}
	return sid, kids
}

func sample(t *testing.T, d *dbtest.Database, kid uuid.UUID, at time.Time, metrics string) {
	t.Helper()
	_, err := d.Pool.Exec(context.Background(),
		`INSERT INTO kernel_utilization (kernel_id, at, metrics) VALUES ($1, $2, $3::jsonb)`, kid, at, metrics)
	require.NoError(t, err)
}

func lastStatOf(t *testing.T, d *dbtest.Database, kid uuid.UUID) map[string]any {
	t.Helper()
	var raw []byte
	require.NoError(t, d.Pool.QueryRow(context.Background(), `SELECT last_stat FROM kernels WHERE id = $1`, kid).Scan(&raw))
	if raw == nil {
		return nil
	}
	var m map[string]any
	require.NoError(t, json.Unmarshal(raw, &m))
	return m
}

// A kernel that ends through EndKernel (its agent's terminated event, the sweeps) keeps the
// statistics of its latest utilization sample in last_stat; an earlier sample is not used.
func TestEndKernelRecordsLastStat(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	d := dbtest.NewDatabase(t)
	require.NoError(t, fixture.LoadExamples(ctx, d.Pool, fixture.Options{BcryptCost: 4}))
	sid, kids := runningSession(t, d, `{"cpu": "2", "mem": "1073741824"}`)
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	sample(t, d, kids[0], now.Add(-time.Minute), `{"cpu_util": 90, "mem": 90}`)
	sample(t, d, kids[0], now.Add(-time.Second), `{"cpu_util": 25, "mem": 50}`)

	evs, err := lifecycle.InSession(ctx, d.Pool, sid, func(tx pgx.Tx, ref lifecycle.Ref) ([]events.Event, error) {
		return lifecycle.EndKernel(ctx, tx, ref, sid, kids[0], "", nil, now)
	})
	require.NoError(t, err)
	require.NotEmpty(t, evs)
	require.Equal(t, map[string]any{
		"cpu_util": map[string]any{"current": "50", "capacity": "200", "pct": "25", "unit_hint": "percent"},
		"mem": map[string]any{"current": "536870912", "capacity": "1073741824", "pct": "50", "unit_hint": "bytes",
			"stats.max": "536870912"},
	}, lastStatOf(t, d, kids[0]))
}

// Every kernel that becomes TERMINATED through lifecycle.Kernels (a destroy ends all of a
// session's kernels at once) records its own statistics; a kernel without samples keeps what
// it had; a kernel that is CANCELLED or already ended is left alone.
func TestKernelsTerminatedRecordLastStats(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	d := dbtest.NewDatabase(t)
	require.NoError(t, fixture.LoadExamples(ctx, d.Pool, fixture.Options{BcryptCost: 4}))
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	sid, kids := runningSession(t, d, `{"cpu": "1", "mem": "100"}`, `{"cpu": "4", "mem": "200"}`, `{"cpu": "1"}`)
	sample(t, d, kids[0], now, `{"cpu_util": 10}`)
	sample(t, d, kids[1], now, `{"mem": 10}`)
	_, err := d.Pool.Exec(ctx, `UPDATE kernels SET last_stat = '{"kept": true}' WHERE id = $1`, kids[2])
	require.NoError(t, err)

	end := func(c lifecycle.Change) []uuid.UUID {
		var ids []uuid.UUID
		require.NoError(t, db.InTx(ctx, d.Pool, func(tx pgx.Tx) error {
			rows, err := lifecycle.Kernels(ctx, tx, sid, nil, c, now)
			for _, r := range rows {
				ids = append(ids, r.ID)
			}
			return err
		}))
		return ids
	}
	require.Len(t, end(lifecycle.Change{From: lifecycle.LiveKernel, To: lifecycle.Terminated}), 3)
	require.Equal(t, "10", lastStatOf(t, d, kids[0])["cpu_util"].(map[string]any)["current"])
	require.Equal(t, "20", lastStatOf(t, d, kids[1])["mem"].(map[string]any)["current"])
	require.Equal(t, map[string]any{"kept": true}, lastStatOf(t, d, kids[2]))

	// A later sample does not rewrite an ended kernel's statistics.
	sample(t, d, kids[0], now.Add(time.Second), `{"cpu_util": 99}`)
	require.Empty(t, end(lifecycle.Change{From: lifecycle.LiveKernel, To: lifecycle.Terminated}))
	require.Equal(t, "10", lastStatOf(t, d, kids[0])["cpu_util"].(map[string]any)["current"])

	// A cancelled kernel records nothing.
	sid2, kids2 := runningSession(t, d, `{"cpu": "1"}`)
	sample(t, d, kids2[0], now, `{"cpu_util": 10}`)
	require.NoError(t, db.InTx(ctx, d.Pool, func(tx pgx.Tx) error {
		_, err := lifecycle.Kernels(ctx, tx, sid2, nil, lifecycle.Change{From: lifecycle.LiveKernel, To: lifecycle.Cancelled}, now)
		return err
	}))
	require.Nil(t, lastStatOf(t, d, kids2[0]))
}
