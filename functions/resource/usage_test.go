package resource_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/functions/functionstest"
	"github.com/hangar-run/hangar/internal/fixture"
)

// usageKernel is a kernel row inserted at known times.
type usageKernel struct {
	session, project, status, slots string
	created                         time.Time
	terminated                      *time.Time
	lastStat, attached, opts        string
	history, container, image       string
	role                            string
}

// insertUsageKernel adds a kernel (and its session when it is new) owned by user@lablup.com.
func insertUsageKernel(t *testing.T, env *functionstest.Env, k usageKernel) string {
	t.Helper()
	ctx := context.Background()
	for _, d := range []*string{&k.attached, &k.opts, &k.history} {
		if *d == "" {
			*d = "{}"
		}
	}
	if k.role == "" {
		k.role = "main"
	}
	var lastStat, container, image *string
	if k.lastStat != "" {
		lastStat = &k.lastStat
	}
	if k.container != "" {
		container = &k.container
	}
	if k.image != "" {
		image = &k.image
	}
	exec(t, env, `
		INSERT INTO sessions (id, name, domain_name, group_id, user_uuid, access_key, scaling_group_name, created_at)
		VALUES ($1::uuid, 'sess-' || left($1::text, 8), 'default', $2, $3, $4, 'default', $5)
		ON CONFLICT (id) DO NOTHING`,
		k.session, k.project, fixture.UserUUID, fixture.UserAccessKey, k.created)
	var id string
	require.NoError(t, env.DB.Pool.QueryRow(ctx, `
		INSERT INTO kernels (session_id, session_name, domain_name, group_id, user_uuid, access_key,
		                     scaling_group, status, cluster_role, occupied_slots, created_at, terminated_at,
		                     last_stat, attached_devices, resource_opts, status_history, container_id, image)
		SELECT id, name, domain_name, group_id, user_uuid, access_key, 'default', $2, $3, $4::jsonb, $5, $6,
		       $7::jsonb, $8::jsonb, $9::jsonb, $10::jsonb, $11, $12
		FROM sessions WHERE id = $1 RETURNING id`,
		k.session, k.status, k.role, k.slots, k.created, k.terminated, lastStat, k.attached, k.opts,
		k.history, container, image).Scan(&id))
	return id
}

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

func atp(s string) *time.Time {
	t := at(s)
	return &t
}

// usageFixture is June 2024 seen from the kernel rows:
//   - kA (main) and kF (sub) of session sA in the default project, 10 June 10:00–12:30 and
//     10:00–12:31, kA with statistics and a CUDA device;
//   - kB in the research project, 31 May 23:00 – 2 June 01:00:00.5;
//   - kC in the default project, RUNNING since 20 June;
//   - kD ended in May and kE CANCELLED in June: not counted.
type usageFixture struct {
	research, sA, sB, sC   string
	kA, kB, kC, kF, kD, kE string
}

func newUsageFixture(t *testing.T, env *functionstest.Env) *usageFixture {
	t.Helper()
	f := &usageFixture{
		sA: "0a000000-0000-4000-8000-00000000000a", sB: "0b000000-0000-4000-8000-00000000000b",
		sC: "0c000000-0000-4000-8000-00000000000c",
	}
	require.NoError(t, env.DB.Pool.QueryRow(context.Background(), `
		INSERT INTO groups (name, domain_name, resource_policy)
		SELECT 'research', domain_name, resource_policy FROM groups WHERE id = $1 RETURNING id`,
		fixture.DefaultProjectID).Scan(&f.research))
	def := fixture.DefaultProjectID
	f.kA = insertUsageKernel(t, env, usageKernel{
		session: f.sA, project: def, status: "TERMINATED",
		slots:   `{"cpu": "2", "mem": "2147483648", "cuda.shares": "0.5"}`,
		created: at("2024-06-10T10:00:00Z"), terminated: atp("2024-06-10T12:30:00Z"),
		lastStat: `{"cpu_used": {"current": "1500"}, "mem": {"capacity": "2147483648"}, "io_read": {"current": "100"},
		            "io_write": {"current": 200}, "io_scratch_size": {"stats.max": "4096"}}`,
		attached:  `{"cuda": [{"model_name": "A100", "data": {"smp": 108, "mem": 1000}}]}`,
		opts:      `{"shmem": 67108864}`,
		history:   `{"PENDING": "2024-06-10T09:59:00+00:00", "SCHEDULED": "2024-06-10T09:59:30+00:00"}`,
		container: "c-a", image: "cr.backend.ai/stable/python:3.11-ubuntu22.04",
	})
	f.kF = insertUsageKernel(t, env, usageKernel{
		session: f.sA, project: def, status: "TERMINATED", role: "sub", slots: `{"cpu": "1", "mem": "1073741824"}`,
		created: at("2024-06-10T10:00:00Z"), terminated: atp("2024-06-10T12:31:00Z"), container: "c-f",
		image: "cr.backend.ai/stable/python:3.11-ubuntu22.04",
	})
	f.kB = insertUsageKernel(t, env, usageKernel{
		session: f.sB, project: f.research, status: "TERMINATED", slots: `{"cpu": "1", "mem": "1073741824"}`,
		created: at("2024-05-31T23:00:00Z"), terminated: atp("2024-06-02T01:00:00.5Z"),
	})
	f.kC = insertUsageKernel(t, env, usageKernel{
		session: f.sC, project: def, status: "RUNNING", slots: `{"cpu": "4", "mem": "1073741824"}`,
		created: at("2024-06-20T08:00:00Z"),
	})
	f.kD = insertUsageKernel(t, env, usageKernel{
		session: "0d000000-0000-4000-8000-00000000000d", project: def, status: "TERMINATED",
		slots: `{"cpu": "8"}`, created: at("2024-05-20T08:00:00Z"), terminated: atp("2024-05-20T09:00:00Z"),
	})
	f.kE = insertUsageKernel(t, env, usageKernel{
		session: "0e000000-0000-4000-8000-00000000000e", project: def, status: "CANCELLED",
		slots: `{"cpu": "8"}`, created: at("2024-06-05T08:00:00Z"), terminated: atp("2024-06-05T08:00:01Z"),
	})
	return f
}

type monthContainer struct {
	ID            string         `json:"id"`
	SessionID     string         `json:"session_id"`
	ContainerID   *string        `json:"container_id"`
	GroupName     string         `json:"group_name"`
	Email         string         `json:"email"`
	AccessKey     string         `json:"access_key"`
	CPUAllocated  float64        `json:"cpu_allocated"`
	CPUUsed       float64        `json:"cpu_used"`
	MemAllocated  int64          `json:"mem_allocated"`
	MemUsed       int64          `json:"mem_used"`
	SharedMemory  int64          `json:"shared_memory"`
	DiskUsed      int64          `json:"disk_used"`
	IORead        int64          `json:"io_read"`
	IOWrite       int64          `json:"io_write"`
	UsedTime      *string        `json:"used_time"`
	UsedDays      *int           `json:"used_days"`
	DeviceType    []string       `json:"device_type"`
	SMP           float64        `json:"smp"`
	GPUMem        float64        `json:"gpu_mem_allocated"`
	GPUAllocated  float64        `json:"gpu_allocated"`
	NFS           []string       `json:"nfs"`
	ImageName     *string        `json:"image_name"`
	CreatedAt     string         `json:"created_at"`
	TerminatedAt  string         `json:"terminated_at"`
	Status        string         `json:"status"`
	StatusHistory map[string]any `json:"status_history"`
}

type monthGroup struct {
	GID           string           `json:"g_id"`
	GName         string           `json:"g_name"`
	GCPUAllocated float64          `json:"g_cpu_allocated"`
	GCPUUsed      float64          `json:"g_cpu_used"`
	GMemAllocated int64            `json:"g_mem_allocated"`
	GIORead       int64            `json:"g_io_read"`
	GDeviceType   []string         `json:"g_device_type"`
	GSMP          float64          `json:"g_smp"`
	GGPUAllocated float64          `json:"g_gpu_allocated"`
	CInfos        []monthContainer `json:"c_infos"`
}

func TestUsagePerMonth(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t)
	f := newUsageFixture(t, env)

	var out []monthGroup
	res := env.Do(t, http.MethodGet, "/resource/usage/month", map[string]any{"month": "202406", "group_ids": nil}, &functionstest.Superadmin)
	res.RequireStatus(t, http.StatusOK)
	res.JSON(t, &out)
	require.Len(t, out, 2)
	// Projects in the order their first kernel ended; running kernels last.
	research, def := out[0], out[1]
	require.Equal(t, "research", research.GName)
	require.Equal(t, f.research, research.GID)
	require.Len(t, research.CInfos, 1)
	b := research.CInfos[0]
	require.Equal(t, f.kB, b.ID)
	require.Equal(t, "1 day, 2:00:00.500000", *b.UsedTime)
	require.Equal(t, 3, *b.UsedDays, "31 May, 1 and 2 June")
	require.Equal(t, "2024-05-31 23:00:00+00:00", b.CreatedAt)
	require.Equal(t, "2024-06-02 01:00:00.500000+00:00", b.TerminatedAt)
	require.Zero(t, b.CPUUsed, "no statistics")
	require.InDelta(t, 1, b.CPUAllocated, 0)

	require.Equal(t, fixture.DefaultProjectID, def.GID)
	require.Equal(t, []string{f.kA, f.kF, f.kC}, []string{def.CInfos[0].ID, def.CInfos[1].ID, def.CInfos[2].ID})
	a := def.CInfos[0]
	require.Equal(t, f.sA, a.SessionID)
	require.Equal(t, "c-a", *a.ContainerID)
	require.Equal(t, "user@lablup.com", a.Email)
	require.Equal(t, fixture.UserAccessKey, a.AccessKey)
	require.InDelta(t, 2, a.CPUAllocated, 0)
	require.InDelta(t, 1500, a.CPUUsed, 0)
	require.EqualValues(t, 2147483648, a.MemAllocated)
	require.EqualValues(t, 2147483648, a.MemUsed)
	require.EqualValues(t, 67108864, a.SharedMemory)
	require.EqualValues(t, 4096, a.DiskUsed)
	require.EqualValues(t, 100, a.IORead)
	require.EqualValues(t, 200, a.IOWrite)
	require.Equal(t, "2:30:00", *a.UsedTime)
	require.Equal(t, 1, *a.UsedDays)
	require.Equal(t, []string{"A100"}, a.DeviceType)
	require.InDelta(t, 108, a.SMP, 0)
	require.InDelta(t, 1000, a.GPUMem, 0)
	require.InDelta(t, 0.5, a.GPUAllocated, 0)
	require.Nil(t, a.NFS)
	require.Equal(t, "cr.backend.ai/stable/python:3.11-ubuntu22.04", *a.ImageName)
	require.Equal(t, "TERMINATED", a.Status)
	require.Equal(t, "2024-06-10T09:59:30+00:00", a.StatusHistory["SCHEDULED"])
	c := def.CInfos[2]
	require.Equal(t, "RUNNING", c.Status)
	require.Equal(t, "None", c.TerminatedAt, "upstream writes str(None)")
	require.Nil(t, c.UsedTime)
	require.Nil(t, c.UsedDays)
	require.InDelta(t, 7, def.GCPUAllocated, 0)
	require.InDelta(t, 1500, def.GCPUUsed, 0)
	require.EqualValues(t, 2147483648+1073741824+1073741824, def.GMemAllocated)
	require.EqualValues(t, 100, def.GIORead)
	require.Equal(t, []string{"A100"}, def.GDeviceType)
	require.InDelta(t, 108, def.GSMP, 0)
	require.InDelta(t, 0.5, def.GGPUAllocated, 0)

	// Only the named projects; the query string works too.
	res = env.Do(t, http.MethodGet, "/resource/usage/month", map[string]any{"month": "202406", "group_ids": []string{f.research}}, &functionstest.Superadmin)
	res.RequireStatus(t, http.StatusOK)
	res.JSON(t, &out)
	require.Len(t, out, 1)
	require.Equal(t, "research", out[0].GName)
	res = env.Do(t, http.MethodGet, "/resource/usage/month?month=202405&group_ids="+fixture.DefaultProjectID, nil, &functionstest.Superadmin)
	res.RequireStatus(t, http.StatusOK)
	res.JSON(t, &out)
	require.Len(t, out, 1)
	require.Len(t, out[0].CInfos, 1, "kD ended in May; kC started after it")
	require.Equal(t, f.kD, out[0].CInfos[0].ID)

	// An empty month.
	res = env.Do(t, http.MethodGet, "/resource/usage/month", map[string]any{"month": "202301"}, &functionstest.Superadmin)
	res.RequireStatus(t, http.StatusOK)
	require.JSONEq(t, `[]`, string(res.Body))

	// Months are read in the configured time zone: in Seoul (UTC+9) June starts on 31 May at
	// 15:00 UTC, so kD still does not count and kB's days are 1 and 2 June.
	knowSlots(t, env, "config/system/timezone", "Asia/Seoul")
	res = env.Do(t, http.MethodGet, "/resource/usage/month", map[string]any{"month": "202406", "group_ids": []string{f.research}}, &functionstest.Superadmin)
	res.RequireStatus(t, http.StatusOK)
	res.JSON(t, &out)
	require.Equal(t, 2, *out[0].CInfos[0].UsedDays)
}

func TestUsagePerMonthErrors(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t)
	for _, body := range []map[string]any{
		{"month": "2024-06"}, {"month": "202413"}, {"month": "202400"}, {"month": "000001"},
		{"month": "2024061"}, {"month": "20240"}, {"month": "abcdef"},
	} {
		p := env.Do(t, http.MethodGet, "/resource/usage/month", body, &functionstest.Superadmin).
			RequireProblem(t, http.StatusBadRequest, "invalid-api-params")
		require.Contains(t, p.Data, "month", "%v", body)
	}
	p := env.Do(t, http.MethodGet, "/resource/usage/month", map[string]any{}, &functionstest.Superadmin).
		RequireProblem(t, http.StatusBadRequest, "invalid-api-params")
	require.Contains(t, string(mustJSON(t, p)), "month")
	p = env.Do(t, http.MethodGet, "/resource/usage/month", map[string]any{"month": "202406", "group_ids": []string{"nope"}}, &functionstest.Superadmin).
		RequireProblem(t, http.StatusBadRequest, "invalid-api-params")
	require.Contains(t, p.Data, "group_ids")
	env.Do(t, http.MethodGet, "/resource/usage/month", map[string]any{"month": "202406"}, &functionstest.DomainAdmin).
		RequireProblem(t, http.StatusUnauthorized, "auth-failed")
	env.Do(t, http.MethodGet, "/resource/usage/month", map[string]any{"month": "202406"}, &functionstest.User).
		RequireProblem(t, http.StatusUnauthorized, "auth-failed")
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

type usageTotals struct {
	CPUAllocated float64  `json:"cpu_allocated"`
	CPUUsed      float64  `json:"cpu_used"`
	MemAllocated int64    `json:"mem_allocated"`
	GPUAllocated float64  `json:"gpu_allocated"`
	DeviceType   []string `json:"device_type"`
	NFS          []string `json:"nfs"`
}

type usageGroup struct {
	GroupUnit     string                 `json:"group_unit"`
	ProjectID     *string                `json:"project_id"`
	GroupID       *string                `json:"group_id"`
	ProjectName   *string                `json:"project_name"`
	KernelID      *string                `json:"kernel_id"`
	SessionID     *string                `json:"session_id"`
	SessionName   *string                `json:"session_name"`
	UserEmail     *string                `json:"user_email"`
	AccessKey     *string                `json:"access_key"`
	CreatedAt     *string                `json:"created_at"`
	TerminatedAt  *string                `json:"terminated_at"`
	UsedTime      *string                `json:"used_time"`
	UsedDays      *int                   `json:"used_days"`
	Status        *string                `json:"status"`
	StatusHistory *string                `json:"status_history"`
	ScheduledAt   *string                `json:"scheduled_at"`
	ContainerIDs  []string               `json:"container_ids"`
	Images        []string               `json:"images"`
	Agent         *string                `json:"agent"`
	LastStat      map[string]any         `json:"last_stat"`
	TotalUsage    usageTotals            `json:"total_usage"`
	Kernels       map[string]*usageGroup `json:"kernels"`
	Sessions      map[string]*usageGroup `json:"sessions"`
}

func TestUsagePerPeriod(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t)
	f := newUsageFixture(t, env)

	var out []*usageGroup
	res := env.Do(t, http.MethodGet, "/resource/usage/period",
		map[string]any{"start_date": "20240601", "end_date": "20240630"}, &functionstest.Superadmin)
	res.RequireStatus(t, http.StatusOK)
	res.JSON(t, &out)
	require.Len(t, out, 2)
	research, def := out[0], out[1]
	require.Equal(t, "project", research.GroupUnit)
	require.Equal(t, f.research, *research.ProjectID)
	require.Len(t, research.Sessions, 1)
	require.Equal(t, "project", def.GroupUnit)
	require.Equal(t, fixture.DefaultProjectID, *def.ProjectID)
	require.Nil(t, def.GroupID, "upstream 24.03.2 has no legacy group_id here")
	require.Nil(t, def.Status)
	require.Nil(t, def.TerminatedAt)
	require.InDelta(t, 7, def.TotalUsage.CPUAllocated, 0)
	require.InDelta(t, 1500, def.TotalUsage.CPUUsed, 0)
	require.InDelta(t, 0.5, def.TotalUsage.GPUAllocated, 0)
	require.Equal(t, []string{"A100"}, def.TotalUsage.DeviceType)
	require.Equal(t, []string{"c-a", "c-f"}, def.ContainerIDs)
	require.Equal(t, []string{"cr.backend.ai/stable/python:3.11-ubuntu22.04"}, def.Images)
	require.Len(t, def.Sessions, 2)

	sa := def.Sessions[f.sA]
	require.Equal(t, "session", sa.GroupUnit)
	require.Equal(t, f.sA, *sa.SessionID)
	require.Equal(t, "user@lablup.com", *sa.UserEmail)
	require.Equal(t, fixture.UserAccessKey, *sa.AccessKey)
	require.InDelta(t, 3, sa.TotalUsage.CPUAllocated, 0)
	require.Equal(t, []string{"c-a", "c-f"}, sa.ContainerIDs)
	require.Len(t, sa.Kernels, 2)
	ka := sa.Kernels[f.kA]
	require.Equal(t, "kernel", ka.GroupUnit)
	require.Equal(t, f.kA, *ka.KernelID)
	require.Equal(t, "2024-06-10 10:00:00+00:00", *ka.CreatedAt)
	require.Equal(t, "2024-06-10 12:30:00+00:00", *ka.TerminatedAt)
	require.Equal(t, "2:30:00", *ka.UsedTime)
	require.Equal(t, 1, *ka.UsedDays)
	require.Equal(t, "TERMINATED", *ka.Status)
	require.Equal(t, "2024-06-10T09:59:30+00:00", *ka.ScheduledAt)
	require.Equal(t, "{'PENDING': '2024-06-10T09:59:00+00:00', 'SCHEDULED': '2024-06-10T09:59:30+00:00'}", *ka.StatusHistory)
	require.Equal(t, map[string]any{"current": "1500"}, ka.LastStat["cpu_used"])
	require.InDelta(t, 2, ka.TotalUsage.CPUAllocated, 0)
	require.Equal(t, []string{}, ka.TotalUsage.NFS)
	kf := sa.Kernels[f.kF]
	require.Nil(t, kf.LastStat)
	require.InDelta(t, 1, kf.TotalUsage.CPUAllocated, 0)
	sc := def.Sessions[f.sC]
	require.Nil(t, sc.Kernels[f.kC].TerminatedAt)
	require.Nil(t, sc.Kernels[f.kC].UsedTime)

	// One project, by either of its names; the end day is included.
	for _, key := range []string{"project_id", "group_id"} {
		res = env.Do(t, http.MethodGet, "/resource/usage/period",
			map[string]any{key: f.research, "start_date": "20240602", "end_date": "20240602"}, &functionstest.Superadmin)
		res.RequireStatus(t, http.StatusOK)
		res.JSON(t, &out)
		require.Len(t, out, 1)
		require.Equal(t, f.research, *out[0].ProjectID)
	}
	// The query string works too; June 3 to 9 saw only the running kernel's start later: nothing.
	res = env.Do(t, http.MethodGet, "/resource/usage/period?start_date=20240603&end_date=20240609", nil, &functionstest.Superadmin)
	res.RequireStatus(t, http.StatusOK)
	require.JSONEq(t, `[]`, string(res.Body))
}

func TestUsagePerPeriodErrors(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t)
	for _, tc := range []struct {
		body map[string]any
		key  string
	}{
		{map[string]any{"start_date": "2024-06-01", "end_date": "20240630"}, "start_date"},
		{map[string]any{"start_date": "20240631", "end_date": "20240701"}, "start_date"},
		{map[string]any{"start_date": "20240601", "end_date": "2024063"}, "end_date"},
		{map[string]any{"start_date": "20240601", "end_date": "20241301"}, "end_date"},
		{map[string]any{"start_date": "20240601", "end_date": "20240531"}, "end_date"},
		{map[string]any{"start_date": "20240101", "end_date": "20240410"}, "end_date"},
		{map[string]any{"start_date": "20240601", "end_date": "20240630", "project_id": "x"}, "project_id"},
		{map[string]any{"start_date": "20240601", "end_date": "20240630", "group_id": "x"}, "group_id"},
	} {
		p := env.Do(t, http.MethodGet, "/resource/usage/period", tc.body, &functionstest.Superadmin).
			RequireProblem(t, http.StatusBadRequest, "invalid-api-params")
		require.Contains(t, string(mustJSON(t, p.Data)), tc.key, "%v", tc.body)
	}
	// 100 days is the limit: 1 January to 9 April 2024 is 100 days with the end day.
	env.Do(t, http.MethodGet, "/resource/usage/period", map[string]any{"start_date": "20240101", "end_date": "20240409"},
		&functionstest.Superadmin).RequireStatus(t, http.StatusOK)
	env.Do(t, http.MethodGet, "/resource/usage/period", map[string]any{"start_date": "20240601"}, &functionstest.Superadmin).
		RequireProblem(t, http.StatusBadRequest, "invalid-api-params")
	env.Do(t, http.MethodGet, "/resource/usage/period", map[string]any{"start_date": "20240601", "end_date": "20240602"},
		&functionstest.User).RequireProblem(t, http.StatusUnauthorized, "auth-failed")
}
