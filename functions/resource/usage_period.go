package resource

import (
	"context"
	"net/http"
	"slices"
	"sort"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
)

// maxPeriodDays is the longest period /resource/usage/period answers for.
const maxPeriodDays = 100

type usagePeriodInput struct {
	Body struct {
		ProjectID *string `json:"project_id,omitempty" nullable:"true" format:"uuid" doc:"Only the kernels of this project (UUID); all projects when absent or null. Alias: group_id."`
		StartDate string  `json:"start_date" required:"true" doc:"First day, YYYYMMDD, in the configured time zone (config/system/timezone, UTC by default)." example:"20240601"`
		EndDate   string  `json:"end_date" required:"true" doc:"Last day (included), YYYYMMDD; not before start_date, and at most 100 days from it." example:"20240630"`
	}
}

// UsageTotals are the summed figures of a kernel, session or project.
type UsageTotals struct {
	NFS             []string `json:"nfs" doc:"Host paths of the mounted folders."`
	CPUAllocated    float64  `json:"cpu_allocated"`
	CPUUsed         float64  `json:"cpu_used"`
	MemAllocated    int64    `json:"mem_allocated"`
	MemUsed         int64    `json:"mem_used"`
	SharedMemory    int64    `json:"shared_memory"`
	DiskAllocated   int64    `json:"disk_allocated"`
	DiskUsed        int64    `json:"disk_used"`
	IORead          int64    `json:"io_read"`
	IOWrite         int64    `json:"io_write"`
	DeviceType      []string `json:"device_type"`
	SMP             float64  `json:"smp"`
	GPUMemAllocated float64  `json:"gpu_mem_allocated"`
	GPUAllocated    float64  `json:"gpu_allocated"`
}

func (t *UsageTotals) add(o UsageTotals) {
	t.NFS = union(t.NFS, o.NFS)
	t.DeviceType = union(t.DeviceType, o.DeviceType)
	t.CPUAllocated += o.CPUAllocated
	t.CPUUsed += o.CPUUsed
	t.MemAllocated += o.MemAllocated
	t.MemUsed += o.MemUsed
	t.SharedMemory += o.SharedMemory
	t.DiskAllocated += o.DiskAllocated
	t.DiskUsed += o.DiskUsed
	t.IORead += o.IORead
	t.IOWrite += o.IOWrite
	t.SMP += o.SMP
	t.GPUMemAllocated += o.GPUMemAllocated
	t.GPUAllocated += o.GPUAllocated
}

// UsageGroup are the fields Backend.AI's usage groups share. A session and a project take the
// identity fields (kernel_id, created_at, used_time, last_stat, ...) of their first kernel, as
// upstream does.
type UsageGroup struct {
	CreatedAt     *string        `json:"created_at" nullable:"true" doc:"Python's str() of the UTC time." example:"2024-06-01 10:00:00+00:00"`
	UsedTime      *string        `json:"used_time" nullable:"true" doc:"As Python writes a timedelta; null while running." example:"0:30:00"`
	UsedDays      *int           `json:"used_days" nullable:"true"`
	UserID        *string        `json:"user_id" nullable:"true"`
	UserEmail     *string        `json:"user_email" nullable:"true"`
	AccessKey     *string        `json:"access_key" nullable:"true"`
	ProjectID     *string        `json:"project_id" nullable:"true"`
	ProjectName   *string        `json:"project_name" nullable:"true"`
	KernelID      *string        `json:"kernel_id" nullable:"true"`
	ContainerIDs  []string       `json:"container_ids"`
	SessionID     *string        `json:"session_id" nullable:"true"`
	SessionName   *string        `json:"session_name" nullable:"true"`
	DomainName    *string        `json:"domain_name" nullable:"true"`
	LastStat      map[string]any `json:"last_stat" nullable:"true"`
	ExtraInfo     map[string]any `json:"extra_info"`
	FullName      *string        `json:"full_name" nullable:"true"`
	Images        []string       `json:"images"`
	Agents        []string       `json:"agents"`
	Status        *string        `json:"status" nullable:"true"`
	StatusInfo    *string        `json:"status_info" nullable:"true"`
	StatusHistory *string        `json:"status_history" nullable:"true" doc:"Python's str() of the status history dict (as upstream)."`
	ClusterMode   *string        `json:"cluster_mode" nullable:"true"`
	ScheduledAt   *string        `json:"scheduled_at" nullable:"true"`
	TerminatedAt  *string        `json:"terminated_at" nullable:"true"`
	GroupUnit     string         `json:"group_unit" enum:"kernel,session,project"`
	TotalUsage    UsageTotals    `json:"total_usage"`
}

// KernelUsage is one kernel's usage in a period.
type KernelUsage struct {
	UsageGroup
	Agent *string `json:"agent" nullable:"true"`
}

// SessionUsage is one session's usage in a period, with its kernels by id.
type SessionUsage struct {
	UsageGroup
	Kernels map[string]*KernelUsage `json:"kernels"`
}

// ProjectUsage is one project's usage in a period, with its sessions by id.
type ProjectUsage struct {
	UsageGroup
	Sessions map[string]*SessionUsage `json:"sessions"`
}

// UsagePeriodOutput is the answer of GET /resource/usage/period.
type UsagePeriodOutput struct {
	Body []*ProjectUsage
}

func registerUsagePeriod(s *functions.Server) {
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "usage-per-period", Method: http.MethodGet, Path: "/resource/usage/period", Tag: tag,
		Summary: "Usage per project for a period of days",
		Description: "Lists, per project, the sessions and kernels that ran between start_date and end_date " +
			"(both included; at most 100 days) with their allocations and used figures, summed per session and " +
			"per project. Parameters come from the body (what Backend.AI's client sends on this GET) or, " +
			"without one, the query string.",
		Role: functions.Superadmin, Frozen: functions.ReadAllowed, Params: true,
		Aliases: functions.Aliases{{"project_id", "group_id"}},
	}), func(ctx context.Context, in *usagePeriodInput) (*UsagePeriodOutput, error) {
		loc := localZone(s)
		start, ok := parseDay(in.Body.StartDate, "20060102", loc)
		if !allDigits(in.Body.StartDate, 8) || !ok {
			return nil, badDate("start_date", "Invalid date values")
		}
		last, ok := parseDay(in.Body.EndDate, "20060102", loc)
		if !allDigits(in.Body.EndDate, 8) || !ok {
			return nil, badDate("end_date", "Invalid date values")
		}
		end := last.AddDate(0, 0, 1) // the end date is included
		if calendarDays(start, end) > maxPeriodDays {
			return nil, badDate("end_date", "Cannot query more than 100 days")
		}
		if !end.After(start) {
			return nil, badDate("end_date", "end_date must be later than start_date.")
		}
		var groups []uuid.UUID
		if p := in.Body.ProjectID; p != nil {
			u, err := uuid.Parse(*p)
			if err != nil {
				return nil, functions.ErrInvalidAPIParams("Invalid project id.", map[string]string{"project_id": "not a UUID"})
			}
			groups = []uuid.UUID{u}
		}
		rows, err := db.Q.UsageKernelsForPeriod(ctx, s.Deps().Pool, &dbsqlc.UsageKernelsForPeriodParams{
			StartAt: &start, EndAt: end, GroupIds: groups,
		})
		if err != nil {
			return nil, functions.FromDB(err, "kernel")
		}
		return &UsagePeriodOutput{Body: projectUsages(rows, loc)}, nil
	})
}

// calendarDays counts the days from a to b as Python subtracts two datetimes of one time zone
// (wall clock, daylight saving time ignored).
func calendarDays(a, b time.Time) int {
	day := func(t time.Time) int64 {
		y, m, d := t.Date()
		return time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400
	}
	return int(day(b) - day(a))
}

// kernelUsage is the usage group of one kernel.
func kernelUsage(r *dbsqlc.UsageKernelsForPeriodRow, loc *time.Location) *KernelUsage {
	f := kernelFigures(r.OccupiedSlots, r.ResourceOpts, r.AttachedDevices, r.VfolderMounts, r.LastStat)
	str := func(s string) *string { return &s }
	var terminated, scheduled *string
	if r.TerminatedAt != nil {
		terminated = str(pyTime(*r.TerminatedAt))
	}
	if v, ok := jsonObject(r.StatusHistory)["SCHEDULED"].(string); ok {
		scheduled = &v
	}
	var lastStat map[string]any
	if len(r.LastStat) > 0 && string(r.LastStat) != "null" {
		lastStat = jsonObject(r.LastStat)
	}
	var agents []string
	if r.Agent != nil {
		agents = []string{*r.Agent}
	}
	var containers []string
	if r.ContainerID != nil {
		containers = []string{*r.ContainerID}
	}
	var images []string
	if r.Image != nil {
		images = []string{*r.Image}
	}
	return &KernelUsage{Agent: r.Agent, UsageGroup: UsageGroup{
		CreatedAt: str(pyTime(r.CreatedAt)), UsedTime: usedTime(r.CreatedAt, r.TerminatedAt),
		UsedDays: usedDays(r.CreatedAt, r.TerminatedAt, loc),
		UserID:   str(r.SUserUuid.String()), UserEmail: str(r.SEmail), AccessKey: str(r.SAccessKey),
		ProjectID: str(r.GroupID.String()), ProjectName: str(r.GroupName), KernelID: str(r.ID.String()),
		ContainerIDs: nonNil(containers), SessionID: str(r.SessionID.String()), SessionName: str(r.SName),
		DomainName: str(r.SDomainName), LastStat: lastStat, ExtraInfo: map[string]any{}, FullName: r.SFullName,
		Images: nonNil(images), Agents: nonNil(agents), Status: str(r.Status), StatusInfo: r.StatusInfo,
		StatusHistory: str(pyRepr(r.StatusHistory)), ClusterMode: str(r.ClusterMode), ScheduledAt: scheduled,
		TerminatedAt: terminated, GroupUnit: "kernel",
		TotalUsage: UsageTotals{
			NFS: nonNil(f.nfs), CPUAllocated: f.cpuAllocated, CPUUsed: f.cpuUsed, MemAllocated: f.memAllocated,
			MemUsed: f.memUsed, SharedMemory: f.sharedMemory, DiskUsed: f.diskUsed, IORead: f.ioRead,
			IOWrite: f.ioWrite, DeviceType: nonNil(f.deviceType), SMP: f.smp, GPUMemAllocated: f.gpuMemAllocated,
			GPUAllocated: f.gpuAllocated,
		},
	}}
}

// projectUsages groups the kernels by project and session, in the order the projects first
// appear, as Backend.AI's parse_total_resource_group does.
func projectUsages(rows []*dbsqlc.UsageKernelsForPeriodRow, loc *time.Location) []*ProjectUsage {
	out := []*ProjectUsage{}
	projects := map[uuid.UUID]*ProjectUsage{}
	for _, r := range rows {
		k := kernelUsage(r, loc)
		p := projects[r.GroupID]
		if p == nil {
			base := k.UsageGroup
			base.Images, base.FullName, base.Status, base.StatusInfo, base.StatusHistory = []string{}, nil, nil, nil, nil
			base.ClusterMode, base.ScheduledAt, base.TerminatedAt = nil, nil, nil
			base.GroupUnit, base.TotalUsage = "project", UsageTotals{NFS: []string{}, DeviceType: []string{}}
			p = &ProjectUsage{UsageGroup: base, Sessions: map[string]*SessionUsage{}}
			projects[r.GroupID] = p
			out = append(out, p)
		}
		sid := r.SessionID.String()
		sess := p.Sessions[sid]
		if sess == nil {
			base := k.UsageGroup
			base.GroupUnit, base.TotalUsage = "session", UsageTotals{NFS: []string{}, DeviceType: []string{}}
			sess = &SessionUsage{UsageGroup: base, Kernels: map[string]*KernelUsage{}}
			p.Sessions[sid] = sess
		}
		if _, dup := sess.Kernels[*k.KernelID]; dup {
			continue
		}
		sess.Kernels[*k.KernelID] = k
		for _, g := range []*UsageGroup{&sess.UsageGroup, &p.UsageGroup} {
			g.TotalUsage.add(k.TotalUsage)
			g.Images = union(g.Images, k.Images)
			g.Agents = union(g.Agents, k.Agents)
			g.ContainerIDs = union(g.ContainerIDs, k.ContainerIDs)
		}
	}
	return out
}

// union is a ∪ b, sorted.
func union(a, b []string) []string {
	out := slices.Clone(a)
	if out == nil {
		out = []string{}
	}
	for _, s := range b {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}
