package resource

import (
	"context"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
)

type usageMonthInput struct {
	Body struct {
		Month    string   `json:"month" required:"true" doc:"The month, YYYYMM, in the configured time zone (config/system/timezone, UTC by default)." example:"202406"`
		GroupIDs []string `json:"group_ids,omitempty" nullable:"true" doc:"Only the kernels of these projects (UUIDs); all projects when absent or null."`
	}
}

// MonthContainer is one kernel in a month's usage (Backend.AI's c_info).
type MonthContainer struct {
	ID              string         `json:"id" doc:"Kernel id."`
	SessionID       string         `json:"session_id"`
	ContainerID     *string        `json:"container_id" nullable:"true"`
	DomainName      string         `json:"domain_name"`
	GroupID         string         `json:"group_id" doc:"Project id."`
	GroupName       string         `json:"group_name" doc:"Project name."`
	Name            string         `json:"name" doc:"Session name."`
	AccessKey       string         `json:"access_key"`
	Email           string         `json:"email" doc:"Owner's email."`
	FullName        *string        `json:"full_name" nullable:"true"`
	Agent           *string        `json:"agent" nullable:"true"`
	CPUAllocated    float64        `json:"cpu_allocated" doc:"Occupied cpu slot."`
	CPUUsed         float64        `json:"cpu_used" doc:"last_stat cpu_used.current (CPU time, ms)."`
	MemAllocated    int64          `json:"mem_allocated" doc:"Occupied mem slot (bytes)."`
	MemUsed         int64          `json:"mem_used" doc:"last_stat mem.capacity (bytes)."`
	SharedMemory    int64          `json:"shared_memory" doc:"resource_opts.shmem (bytes)."`
	DiskAllocated   int64          `json:"disk_allocated" doc:"Always 0 (no disk quota)."`
	DiskUsed        int64          `json:"disk_used" doc:"last_stat io_scratch_size stats.max (bytes)."`
	IORead          int64          `json:"io_read" doc:"last_stat io_read.current (bytes)."`
	IOWrite         int64          `json:"io_write" doc:"last_stat io_write.current (bytes)."`
	UsedTime        *string        `json:"used_time" nullable:"true" doc:"terminated_at - created_at as Python writes a timedelta (\"1 day, 2:03:04\"); null while running." example:"0:30:00"`
	UsedDays        *int           `json:"used_days" nullable:"true" doc:"Calendar days (configured time zone) the kernel ran on; null while running."`
	DeviceType      []string       `json:"device_type" doc:"Model names of the attached CUDA devices."`
	SMP             float64        `json:"smp" doc:"Streaming multiprocessors of the attached CUDA devices."`
	GPUMemAllocated float64        `json:"gpu_mem_allocated" doc:"Memory of the attached CUDA devices (bytes)."`
	GPUAllocated    float64        `json:"gpu_allocated" doc:"Occupied cuda.shares, else cuda.devices."`
	NFS             []string       `json:"nfs" nullable:"true" doc:"Host paths of the mounted folders; null when none."`
	ImageID         *string        `json:"image_id" nullable:"true" doc:"The image reference (as upstream)."`
	ImageName       *string        `json:"image_name" nullable:"true"`
	CreatedAt       string         `json:"created_at" doc:"Python's str() of the UTC time." example:"2024-06-01 10:00:00+00:00"`
	TerminatedAt    string         `json:"terminated_at" doc:"Python's str() of the UTC time; \"None\" while running (as upstream)."`
	Status          string         `json:"status"`
	StatusInfo      *string        `json:"status_info" nullable:"true"`
	StatusChanged   string         `json:"status_changed"`
	StatusHistory   map[string]any `json:"status_history" doc:"Status → time it was entered."`
	ClusterMode     string         `json:"cluster_mode"`
}

// MonthGroup is one project's usage in a month: the sums of its kernels' figures.
type MonthGroup struct {
	DomainName     string           `json:"domain_name"`
	GID            string           `json:"g_id" doc:"Project id."`
	GName          string           `json:"g_name" doc:"Project name."`
	GCPUAllocated  float64          `json:"g_cpu_allocated"`
	GCPUUsed       float64          `json:"g_cpu_used"`
	GMemAllocated  int64            `json:"g_mem_allocated"`
	GMemUsed       int64            `json:"g_mem_used"`
	GSharedMemory  int64            `json:"g_shared_memory"`
	GDiskAllocated int64            `json:"g_disk_allocated"`
	GDiskUsed      int64            `json:"g_disk_used"`
	GIORead        int64            `json:"g_io_read"`
	GIOWrite       int64            `json:"g_io_write"`
	GDeviceType    []string         `json:"g_device_type"`
	GSMP           float64          `json:"g_smp"`
	GGPUMemAlloc   float64          `json:"g_gpu_mem_allocated"`
	GGPUAllocated  float64          `json:"g_gpu_allocated"`
	CInfos         []MonthContainer `json:"c_infos" doc:"Its kernels, ended ones first in the order they ended."`
}

// UsageMonthOutput is the answer of GET /resource/usage/month.
type UsageMonthOutput struct {
	Body []*MonthGroup
}

func registerUsageMonth(s *functions.Server) {
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "usage-per-month", Method: http.MethodGet, Path: "/resource/usage/month", Tag: tag,
		Summary: "Usage per project for a month",
		Description: "Lists, per project, the kernels that ran during a month (ended ones that ended in or after " +
			"it and started before its end, and running ones started before its end) with their allocations " +
			"and used figures, and the project's sums. Parameters come from the body (what Backend.AI's client " +
			"sends on this GET) or, without one, the query string.",
		Role: functions.Superadmin, Frozen: functions.ReadAllowed, Params: true,
	}), func(ctx context.Context, in *usageMonthInput) (*UsageMonthOutput, error) {
		loc := localZone(s)
		start, ok := parseDay(in.Body.Month, "200601", loc)
		if !allDigits(in.Body.Month, 6) || !ok {
			return nil, badDate("month", "Invalid date values")
		}
		end := start.AddDate(0, 1, 0)
		var groups []uuid.UUID
		for i, g := range in.Body.GroupIDs {
			u, err := uuid.Parse(g)
			if err != nil {
				return nil, functions.ErrInvalidAPIParams("Invalid project id.",
					map[string]string{"group_ids": "item " + itoa(i) + " is not a UUID"})
			}
			groups = append(groups, u)
		}
		rows, err := db.Q.UsageKernelsForPeriod(ctx, s.Deps().Pool, &dbsqlc.UsageKernelsForPeriodParams{
			StartAt: &start, EndAt: end, GroupIds: groups, // an empty list, as null, means every project (as upstream)
		})
		if err != nil {
			return nil, functions.FromDB(err, "kernel")
		}
		return &UsageMonthOutput{Body: monthGroups(rows, loc)}, nil
	})
}

// monthGroups groups the kernels by project, in the order the projects first appear.
func monthGroups(rows []*dbsqlc.UsageKernelsForPeriodRow, loc *time.Location) []*MonthGroup {
	out := []*MonthGroup{}
	byID := map[uuid.UUID]*MonthGroup{}
	for _, r := range rows {
		f := kernelFigures(r.OccupiedSlots, r.ResourceOpts, r.AttachedDevices, r.VfolderMounts, r.LastStat)
		terminated := "None"
		if r.TerminatedAt != nil {
			terminated = pyTime(*r.TerminatedAt)
		}
		history := jsonObject(r.StatusHistory)
		c := MonthContainer{
			ID: r.ID.String(), SessionID: r.SessionID.String(), ContainerID: r.ContainerID,
			DomainName: r.DomainName, GroupID: r.GroupID.String(), GroupName: r.GroupName, Name: r.SessionName,
			AccessKey: r.AccessKey, Email: r.Email, FullName: r.FullName, Agent: r.Agent,
			CPUAllocated: f.cpuAllocated, CPUUsed: f.cpuUsed, MemAllocated: f.memAllocated, MemUsed: f.memUsed,
			SharedMemory: f.sharedMemory, DiskUsed: f.diskUsed, IORead: f.ioRead, IOWrite: f.ioWrite,
			UsedTime: usedTime(r.CreatedAt, r.TerminatedAt), UsedDays: usedDays(r.CreatedAt, r.TerminatedAt, loc),
			DeviceType: nonNil(f.deviceType), SMP: f.smp, GPUMemAllocated: f.gpuMemAllocated, GPUAllocated: f.gpuAllocated,
			NFS: f.nfs, ImageID: r.Image, ImageName: r.Image,
			CreatedAt: pyTime(r.CreatedAt), TerminatedAt: terminated, Status: r.Status, StatusInfo: r.StatusInfo,
			StatusChanged: pyTime(r.StatusChanged), StatusHistory: history, ClusterMode: r.ClusterMode,
		}
		g := byID[r.GroupID]
		if g == nil {
			g = &MonthGroup{DomainName: r.DomainName, GID: r.GroupID.String(), GName: r.GroupName,
				GDeviceType: []string{}, CInfos: []MonthContainer{}}
			byID[r.GroupID] = g
			out = append(out, g)
		}
		g.GCPUAllocated += c.CPUAllocated
		g.GCPUUsed += c.CPUUsed
		g.GMemAllocated += c.MemAllocated
		g.GMemUsed += c.MemUsed
		g.GSharedMemory += c.SharedMemory
		g.GDiskAllocated += c.DiskAllocated
		g.GDiskUsed += c.DiskUsed
		g.GIORead += c.IORead
		g.GIOWrite += c.IOWrite
		for _, d := range c.DeviceType {
			if !slices.Contains(g.GDeviceType, d) {
				g.GDeviceType = append(g.GDeviceType, d)
			}
		}
		sort.Strings(g.GDeviceType)
		g.GSMP += c.SMP
		g.GGPUMemAlloc += c.GPUMemAllocated
		g.GGPUAllocated += c.GPUAllocated
		g.CInfos = append(g.CInfos, c)
	}
	return out
}

// nonNil is s, or an empty list for nil.
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// itoa writes i in decimal.
func itoa(i int) string { return strconv.Itoa(i) }
