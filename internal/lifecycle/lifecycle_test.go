package lifecycle_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/internal/lifecycle"
)

// upstreamSession is Backend.AI's SESSION_STATUS_TRANSITION_MAP (models/session.py).
var upstreamSession = map[string][]string{
	"PENDING":          {"SCHEDULED", "TERMINATING", "TERMINATED", "ERROR", "CANCELLED"},
	"SCHEDULED":        {"PULLING", "PREPARING", "TERMINATED", "ERROR", "CANCELLED"},
	"PULLING":          {"PREPARING", "RUNNING", "RUNNING_DEGRADED", "TERMINATED", "ERROR", "CANCELLED"},
	"PREPARING":        {"PULLING", "RUNNING", "RUNNING_DEGRADED", "TERMINATING", "TERMINATED", "ERROR", "CANCELLED"},
	"RUNNING":          {"RESTARTING", "RUNNING_DEGRADED", "TERMINATING", "TERMINATED", "ERROR"},
	"RESTARTING":       {"RUNNING", "RUNNING_DEGRADED", "TERMINATING", "TERMINATED", "ERROR"},
	"RUNNING_DEGRADED": {"RUNNING", "TERMINATING", "TERMINATED", "ERROR"},
	"TERMINATING":      {"TERMINATED", "ERROR"},
	"ERROR":            {"TERMINATED"},
}

func TestSessionTableContainsUpstream(t *testing.T) {
	t.Parallel()
	for from, tos := range upstreamSession {
		for _, to := range tos {
			require.True(t, lifecycle.SessionAllowed(from, to), "%s → %s", from, to)
		}
	}
}

func TestSessionTableRefuses(t *testing.T) {
	t.Parallel()
	for _, from := range []string{lifecycle.Terminated, lifecycle.Cancelled} {
		for _, to := range lifecycle.SessionStatuses {
			require.False(t, lifecycle.SessionAllowed(from, to), "an ended session never moves: %s → %s", from, to)
		}
	}
	for _, to := range lifecycle.SessionStatuses {
		if to != lifecycle.Terminated && to != lifecycle.Terminating {
			require.False(t, lifecycle.SessionAllowed(lifecycle.Error, to), "ERROR → %s", to)
		}
	}
	for _, tc := range [][2]string{
		{"PENDING", "RUNNING"}, {"PENDING", "PREPARING"}, {"RUNNING", "PENDING"}, {"RUNNING", "SCHEDULED"},
		{"RUNNING", "CANCELLED"}, {"PULLING", "SCHEDULED"}, {"TERMINATING", "RUNNING"}, {"RUNNING", "RUNNING"},
		{"PENDING", "PENDING"}, {"RUNNING", "BUILDING"}, {"NOPE", "RUNNING"},
	} {
		require.False(t, lifecycle.SessionAllowed(tc[0], tc[1]), "%s → %s", tc[0], tc[1])
	}
}

func TestKernelTable(t *testing.T) {
	t.Parallel()
	for _, s := range lifecycle.LiveKernel {
		require.True(t, lifecycle.KernelAllowed(s, lifecycle.Terminated), "a live kernel can end: %s", s)
		require.True(t, lifecycle.KernelAllowed(s, lifecycle.Cancelled), "a live kernel can be cancelled: %s", s)
		require.True(t, lifecycle.KernelAllowed(s, lifecycle.Error), "a live kernel can fail: %s", s)
		require.True(t, lifecycle.KernelAllowed(s, lifecycle.Terminating), "a live kernel can be terminated: %s", s)
		require.False(t, lifecycle.KernelAllowed(s, lifecycle.Pending), "%s → PENDING", s)
	}
	for _, to := range lifecycle.KernelStatuses {
		require.False(t, lifecycle.KernelAllowed(lifecycle.Terminated, to), "TERMINATED → %s", to)
		require.False(t, lifecycle.KernelAllowed(lifecycle.Cancelled, to), "CANCELLED → %s", to)
	}
	require.True(t, lifecycle.KernelAllowed("SCHEDULED", "PREPARING"))
	require.True(t, lifecycle.KernelAllowed("PREPARING", "RUNNING"))
	require.True(t, lifecycle.KernelAllowed("RUNNING", "RESTARTING"))
	require.True(t, lifecycle.KernelAllowed("RESTARTING", "RUNNING"))
	require.False(t, lifecycle.KernelAllowed("RUNNING", "PREPARING"))
	require.False(t, lifecycle.KernelAllowed("RUNNING", "RUNNING"))
	require.False(t, lifecycle.KernelAllowed("PREPARING", "SCHEDULED"))
	require.False(t, lifecycle.KernelAllowed("ERROR", "RUNNING"))
	require.False(t, lifecycle.KernelAllowed("RUNNING", "RUNNING_DEGRADED"), "not a kernel status")
}

// A change the table does not allow is refused before it reaches the database.
func TestChangeOutsideTheTableIsRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, err := lifecycle.Session(ctx, nil, uuid.New(), lifecycle.Change{From: []string{lifecycle.Running, lifecycle.Terminated}, To: lifecycle.Terminating}, time.Now())
	require.ErrorIs(t, err, lifecycle.ErrNotAllowed)
	_, err = lifecycle.Kernels(ctx, nil, uuid.New(), nil, lifecycle.Change{From: []string{lifecycle.Running}, To: lifecycle.Pending}, time.Now())
	require.ErrorIs(t, err, lifecycle.ErrNotAllowed)
}

func TestFormatTime(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   time.Time
		want string
	}{
		{time.Date(2024, 3, 15, 12, 34, 56, 123456000, time.UTC), "2024-03-15T12:34:56.123456+00:00"},
		{time.Date(2024, 3, 15, 12, 34, 56, 123456789, time.UTC), "2024-03-15T12:34:56.123456+00:00"},
		{time.Date(2024, 3, 15, 12, 34, 56, 1000, time.UTC), "2024-03-15T12:34:56.000001+00:00"},
		// Python's isoformat leaves a zero fraction out.
		{time.Date(2024, 3, 15, 12, 34, 56, 0, time.UTC), "2024-03-15T12:34:56+00:00"},
		{time.Date(2024, 3, 15, 12, 34, 56, 999, time.UTC), "2024-03-15T12:34:56+00:00"},
		// Any zone is written in UTC.
		{time.Date(2024, 3, 15, 21, 34, 56, 500000000, time.FixedZone("KST", 9*3600)), "2024-03-15T12:34:56.500000+00:00"},
	} {
		got := lifecycle.FormatTime(tc.in)
		require.Equal(t, tc.want, got)
		back, err := time.Parse(time.RFC3339Nano, got)
		require.NoError(t, err)
		require.True(t, back.Equal(tc.in.Truncate(time.Microsecond)), "%s reads back as %s", got, back)
	}
	require.Equal(t, map[string]string{"RUNNING": "2024-03-15T12:34:56+00:00"},
		lifecycle.HistoryEntry(lifecycle.Running, time.Date(2024, 3, 15, 12, 34, 56, 0, time.UTC)))
}
