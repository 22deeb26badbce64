package lifecycle_test

import (
	"encoding/json"
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/internal/dbtest"
	"github.com/hangar-run/hangar/internal/fixture"
	"github.com/hangar-run/hangar/internal/lifecycle"
	"github.com/hangar-run/hangar/migrations"
)

// upSQL returns the Up part of a migration file, without goose's annotations.
func upSQL(t *testing.T, name string) string {
	t.Helper()
	b, err := fs.ReadFile(migrations.FS, name)
	require.NoError(t, err)
	s := string(b)
	i := strings.Index(s, "-- +goose Up")
	j := strings.Index(s, "-- +goose Down")
	require.True(t, i >= 0 && j > i)
	var out []string
	for _, line := range strings.Split(s[i:j], "\n") {
		if !strings.HasPrefix(line, "-- +goose") {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

// The timestamps migration rewrites every status_history entry (and the scheduler's
// last_try) written in another form into lifecycle.FormatTime's, keeps other values, and
// changes nothing when run again.
func TestMigrationNormalisesHistoryTimestamps(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	d := dbtest.NewDatabase(t)
	require.NoError(t, fixture.LoadExamples(ctx, d.Pool, fixture.Options{BcryptCost: 4}))

	mixed := `{
		"PENDING": "2024-03-15T12:34:56.123456Z",
		"SCHEDULED": "2024-03-15T12:34:57.000000+00:00",
		"PREPARING": "2024-03-15 21:34:58.5+09",
		"RUNNING": "2024-03-15T12:34:59.25+00:00",
		"RESTARTING": "2024-03-15T12:35:00",
		"TERMINATING": "2024-03-15T12:35:01.000001+00:00",
		"TERMINATED": "2024-03-15T12:35:02+00:00",
		"NOTE": "not a time",
		"LATER": "2024-13-45T99:00:00Z",
		"COUNT": 3
	}`
	want := map[string]any{
		"PENDING":     lifecycle.FormatTime(time.Date(2024, 3, 15, 12, 34, 56, 123456000, time.UTC)),
		"SCHEDULED":   lifecycle.FormatTime(time.Date(2024, 3, 15, 12, 34, 57, 0, time.UTC)),
		"PREPARING":   lifecycle.FormatTime(time.Date(2024, 3, 15, 12, 34, 58, 500000000, time.UTC)),
		"RUNNING":     lifecycle.FormatTime(time.Date(2024, 3, 15, 12, 34, 59, 250000000, time.UTC)),
		"RESTARTING":  lifecycle.FormatTime(time.Date(2024, 3, 15, 12, 35, 0, 0, time.UTC)),
		"TERMINATING": lifecycle.FormatTime(time.Date(2024, 3, 15, 12, 35, 1, 1000, time.UTC)),
		"TERMINATED":  "2024-03-15T12:35:02+00:00",
		"NOTE":        "not a time",
		"LATER":       "2024-13-45T99:00:00Z",
		"COUNT":       float64(3),
	}
	require.Equal(t, "2024-03-15T12:34:57+00:00", want["SCHEDULED"])

	sid, kid := uuid.New(), uuid.New()
	const (
		accessKey = "AKIANABBDUSEREXAMPLE"
		userUUID  = "dfa9da54-4b28-432f-be29-c0d680c7a412"
		projectID = "2de2b969-1d04-48a6-af16-0bc8adb3c831"
	)
	_, err := d.Pool.Exec(ctx, `INSERT INTO sessions (id, name, session_type, scaling_group_name, domain_name, group_id, user_uuid,
		access_key, images, requested_slots, status_history, status_data)
		VALUES ($1, 'mixed', 'INTERACTIVE', 'default', 'default', $2, $3, $4, '{cr.backend.ai/stable/python:3.9-ubuntu20.04}',
		'{"cpu": "1"}', $5::jsonb, '{"scheduler": {"retries": 2, "last_try": "2024-03-15T12:34:56.000000Z"}}')`,
		sid, projectID, userUUID, accessKey, mixed)
	require.NoError(t, err)
	_, err = d.Pool.Exec(ctx, `INSERT INTO kernels (id, session_id, session_name, scaling_group, domain_name, group_id, user_uuid,
		access_key, image, registry, requested_slots, status_history)
		VALUES ($1, $2, 'mixed', 'default', 'default', $3, $4, $5, 'cr.backend.ai/stable/python:3.9-ubuntu20.04', 'cr.backend.ai',
		'{"cpu": "1"}', $6::jsonb)`,
		kid, sid, projectID, userUUID, accessKey, mixed)
	require.NoError(t, err)

	migrate := func() {
		tx, err := d.Pool.Begin(ctx)
		require.NoError(t, err)
		defer func() { _ = tx.Rollback(ctx) }()
		_, err = tx.Exec(ctx, upSQL(t, "0008_lifecycle_timestamps.sql"))
		require.NoError(t, err)
		require.NoError(t, tx.Commit(ctx))
	}
	read := func() (sessionHist, kernelHist, data map[string]any) {
		var sh, kh, sd []byte
		require.NoError(t, d.Pool.QueryRow(ctx, `SELECT s.status_history, k.status_history, s.status_data
			FROM sessions s JOIN kernels k ON k.session_id = s.id WHERE s.id = $1`, sid).Scan(&sh, &kh, &sd))
		require.NoError(t, json.Unmarshal(sh, &sessionHist))
		require.NoError(t, json.Unmarshal(kh, &kernelHist))
		require.NoError(t, json.Unmarshal(sd, &data))
		return sessionHist, kernelHist, data
	}

	migrate()
	sh, kh, data := read()
	require.Equal(t, want, sh)
	require.Equal(t, want, kh)
	require.Equal(t, map[string]any{"retries": float64(2), "last_try": "2024-03-15T12:34:56+00:00"}, data["scheduler"])

	migrate()
	sh2, kh2, data2 := read()
	require.Equal(t, sh, sh2)
	require.Equal(t, kh, kh2)
	require.Equal(t, data, data2)
}
