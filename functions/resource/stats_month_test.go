package resource_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/functions/functionstest"
	"github.com/hangar-run/hangar/internal/auth"
	"github.com/hangar-run/hangar/internal/fixture"
)

type statValue struct {
	Value    float64 `json:"value"`
	UnitHint string  `json:"unit_hint"`
}

type statBin struct {
	Date         float64   `json:"date"`
	NumSessions  statValue `json:"num_sessions"`
	CPUAllocated statValue `json:"cpu_allocated"`
	MemAllocated statValue `json:"mem_allocated"`
	GPUAllocated statValue `json:"gpu_allocated"`
	IOReadBytes  statValue `json:"io_read_bytes"`
	IOWriteBytes statValue `json:"io_write_bytes"`
	DiskUsed     statValue `json:"disk_used"`
}

func statsMonth(t *testing.T, env *functionstest.Env, path string, creds *auth.Credentials) []statBin {
	t.Helper()
	var out []statBin
	res := env.Do(t, http.MethodGet, path, nil, creds)
	res.RequireStatus(t, http.StatusOK)
	res.JSON(t, &out)
	require.Len(t, out, 2880)
	return out
}

// The bins start exactly 30 days before now, 15 minutes apart; a kernel counts in every bin
// from the one it was created in (the first when earlier) to the one it ended in; running,
// cancelled and older kernels do not count; the user route sees only the caller's kernels.
func TestStatsMonth(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t)
	now := at("2024-07-01T00:00:00.25Z")
	env.Clock.Set(now)
	start := now.AddDate(0, 0, -30)
	kernel := func(session, status, slots string, created time.Time, terminated *time.Time, lastStat string) string {
		return insertUsageKernel(t, env, usageKernel{session: session, project: fixture.DefaultProjectID,
			status: status, slots: slots, created: created, terminated: terminated, lastStat: lastStat})
	}
	// Bins 0 and 1: created before the window, ended in bin 1.
	kernel("01000000-0000-4000-8000-000000000001", "TERMINATED", `{"cpu": "0.5", "mem": "1000", "cuda.shares": "0.1"}`,
		start.Add(-time.Hour), new(start.Add(20*time.Minute)),
		`{"io_read": {"current": "100"}, "io_write": {"current": 200}, "io_scratch_size": {"stats.max": "4096"}}`)
	// Bin 1 only: created exactly at its start, ended just before its end.
	kernel("02000000-0000-4000-8000-000000000002", "TERMINATED", `{"cpu": "2", "mem": "24", "cuda.devices": "1", "cuda.shares": "0.2"}`,
		start.Add(15*time.Minute), new(start.Add(30*time.Minute-time.Microsecond)), "")
	// Another user's, ended after now (a clock ahead): the last bin, admin only.
	other := kernel("03000000-0000-4000-8000-000000000003", "TERMINATED", `{"cpu": "8"}`,
		now.Add(-10*time.Minute), new(now.Add(10*time.Minute)), "")
	exec(t, env, `UPDATE kernels SET user_uuid = $1 WHERE id = $2`, fixture.SuperadminUUID, other)
	// Not counted: running, cancelled, ended before the window, ended before it was created.
	kernel("04000000-0000-4000-8000-000000000004", "RUNNING", `{"cpu": "16"}`, start.Add(time.Hour), nil, "")
	kernel("05000000-0000-4000-8000-000000000005", "CANCELLED", `{"cpu": "16"}`, start.Add(time.Hour), new(start.Add(2*time.Hour)), "")
	kernel("06000000-0000-4000-8000-000000000006", "TERMINATED", `{"cpu": "16"}`, start.Add(-2*time.Hour), new(start.Add(-time.Second)), "")
	kernel("07000000-0000-4000-8000-000000000007", "TERMINATED", `{"cpu": "16", "mem": "x"}`, start.Add(3*time.Hour), new(start.Add(2*time.Hour)), "")

	bins := statsMonth(t, env, "/resource/stats/user/month", &functionstest.User)
	require.InDelta(t, float64(start.UnixMicro())/1e6, bins[0].Date, 1e-6)
	require.InDelta(t, float64(start.UnixMicro())/1e6+2879*900, bins[2879].Date, 1e-6)
	require.Equal(t, statBin{
		Date: bins[0].Date, NumSessions: statValue{1, "count"}, CPUAllocated: statValue{0.5, "count"},
		MemAllocated: statValue{1000, "bytes"}, GPUAllocated: statValue{0.1, "count"},
		IOReadBytes: statValue{100, "bytes"}, IOWriteBytes: statValue{200, "bytes"}, DiskUsed: statValue{4096, "bytes"},
	}, bins[0])
	b1 := bins[1]
	require.Equal(t, statValue{2, "count"}, b1.NumSessions)
	require.Equal(t, statValue{2.5, "count"}, b1.CPUAllocated)
	require.Equal(t, statValue{1024, "bytes"}, b1.MemAllocated)
	require.Equal(t, statValue{1.3, "count"}, b1.GPUAllocated, "exact sums, not 1.3000000000000003")
	require.Equal(t, statValue{100, "bytes"}, b1.IOReadBytes)
	for i := 2; i < 2880; i++ {
		require.Zero(t, bins[i].NumSessions.Value, "bin %d", i)
		require.Zero(t, bins[i].CPUAllocated.Value, "bin %d", i)
	}

	admin := statsMonth(t, env, "/resource/stats/admin/month", &functionstest.Superadmin)
	require.Equal(t, bins[:2879], admin[:2879])
	require.Equal(t, statValue{1, "count"}, admin[2879].NumSessions)
	require.Equal(t, statValue{8, "count"}, admin[2879].CPUAllocated)

	// The superadmin's own route sees only their own kernel.
	own := statsMonth(t, env, "/resource/stats/user/month", &functionstest.Superadmin)
	require.Zero(t, own[0].NumSessions.Value)
	require.Equal(t, statValue{8, "count"}, own[2879].CPUAllocated)
}

func TestStatsMonthRoles(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t)
	for _, creds := range []*auth.Credentials{&functionstest.User, &functionstest.DomainAdmin} {
		env.Do(t, http.MethodGet, "/resource/stats/admin/month", nil, creds).
			RequireProblem(t, http.StatusUnauthorized, "auth-failed")
	}
	for _, path := range []string{"/resource/stats/user/month", "/resource/stats/admin/month"} {
		env.Do(t, http.MethodGet, path, nil, nil).RequireProblem(t, http.StatusBadRequest, "invalid-auth-params") // unsigned
	}
	// Parameters are ignored, as upstream ignores them; a new user has 2,880 empty bins.
	bins := statsMonth(t, env, "/resource/stats/user/month?user_uuid="+fixture.SuperadminUUID, &functionstest.DomainAdmin)
	for _, b := range bins {
		require.Zero(t, b.NumSessions.Value)
	}
}
