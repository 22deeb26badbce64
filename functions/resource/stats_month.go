package resource

import (
	"context"
	"math"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
)

// Backend.AI's time-binned monthly statistics: 2,880 bins of 15 minutes, the last 30 days.
const (
	statBinSeconds = 900
	statBins       = 2880
	statDays       = 30
)

// StatValue is one figure of a bin.
type StatValue struct {
	Value    float64 `json:"value" doc:"The sum over the kernels that ran during the bin."`
	UnitHint string  `json:"unit_hint" enum:"count,bytes"`
}

// StatBin is one 15-minute bin of GET /resource/stats/*/month.
type StatBin struct {
	Date         float64   `json:"date" doc:"Start of the bin, Unix time in seconds (with microseconds)." example:"1717200000.25"`
	NumSessions  StatValue `json:"num_sessions" doc:"Kernels that ran during the bin (Backend.AI counts kernels here)."`
	CPUAllocated StatValue `json:"cpu_allocated" doc:"Their occupied cpu slots."`
	MemAllocated StatValue `json:"mem_allocated" doc:"Their occupied mem slots (bytes)."`
	GPUAllocated StatValue `json:"gpu_allocated" doc:"Their occupied cuda.devices plus cuda.shares."`
	IOReadBytes  StatValue `json:"io_read_bytes" doc:"Their last statistics' io_read (bytes)."`
	IOWriteBytes StatValue `json:"io_write_bytes" doc:"Their last statistics' io_write (bytes)."`
	DiskUsed     StatValue `json:"disk_used" doc:"Their last statistics' io_scratch_size stats.max (bytes)."`
}

// StatsMonthOutput is the answer of GET /resource/stats/user/month and /resource/stats/admin/month.
type StatsMonthOutput struct {
	Body []StatBin
}

const statsMonthDescription = "2,880 bins of 15 minutes covering the last 30 days (the first starts exactly 30 days " +
	"ago). Each bin sums the figures of the kernels that ended in those 30 days (TERMINATED ones) over every " +
	"bin from the one they were created in to the one they ended in: their count, occupied slots, and the " +
	"I/O and scratch figures of their last statistics. Kernels still running are not counted (as in Backend.AI)."

func registerStatsMonth(s *functions.Server) {
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "user-month-stats", Method: http.MethodGet, Path: "/resource/stats/user/month", Tag: tag,
		Summary:     "The caller's kernels in 15-minute bins over the last 30 days",
		Description: statsMonthDescription + " Only the caller's own kernels.",
		Role:        functions.User, Frozen: functions.ReadAllowed, Params: true,
	}), func(ctx context.Context, _ *struct{}) (*StatsMonthOutput, error) {
		user := functions.IdentityFrom(ctx).UserUUID()
		return statsMonth(ctx, s, &user)
	})
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "admin-month-stats", Method: http.MethodGet, Path: "/resource/stats/admin/month", Tag: tag,
		Summary:     "Every kernel in 15-minute bins over the last 30 days",
		Description: statsMonthDescription + " Every user's kernels.",
		Role:        functions.Superadmin, Frozen: functions.ReadAllowed, Params: true,
	}), func(ctx context.Context, _ *struct{}) (*StatsMonthOutput, error) {
		return statsMonth(ctx, s, nil)
	})
}

// statsMonth bins the kernels (of user when not nil) that ended in the last 30 days.
func statsMonth(ctx context.Context, s *functions.Server, user *uuid.UUID) (*StatsMonthOutput, error) {
	start := s.Deps().Clock().Add(-statDays * 24 * time.Hour)
	rows, err := db.Q.UsageKernelsEndedSince(ctx, s.Deps().Pool, &dbsqlc.UsageKernelsEndedSinceParams{Since: &start, UserUuid: user})
	if err != nil {
		return nil, functions.FromDB(err, "kernel")
	}
	return &StatsMonthOutput{Body: binKernels(rows, start)}, nil
}

// binAmounts are the figures one kernel adds to every bin it ran in.
type binAmounts struct {
	count, mem, ioRead, ioWrite, disk int64
	cpu, gpu                          decimal.Decimal
}

func (a *binAmounts) add(o binAmounts, sign int64) {
	a.count += sign * o.count
	a.mem += sign * o.mem
	a.ioRead += sign * o.ioRead
	a.ioWrite += sign * o.ioWrite
	a.disk += sign * o.disk
	a.cpu = a.cpu.Add(o.cpu.Mul(decimal.NewFromInt(sign)))
	a.gpu = a.gpu.Add(o.gpu.Mul(decimal.NewFromInt(sign)))
}

// binKernels builds the bins from start: a kernel counts in the bins from the one it was
// created in (the first when earlier) to the one it ended in, both included. The sums are
// kept exactly (a difference array over the bins, then running sums), so a month of kernels
// costs one pass over the kernels and one over the bins.
func binKernels(rows []*dbsqlc.UsageKernelsEndedSinceRow, start time.Time) []StatBin {
	startTS := float64(start.UnixMicro()) / 1e6
	index := func(t time.Time) int {
		i := math.Floor((float64(t.UnixMicro())/1e6 - startTS) / statBinSeconds)
		return int(max(-1, min(i, statBins)))
	}
	diff := make([]binAmounts, statBins+1)
	for _, r := range rows {
		if r.TerminatedAt == nil {
			continue
		}
		first, last := max(index(r.CreatedAt), 0), min(index(*r.TerminatedAt), statBins-1)
		if first > last {
			continue
		}
		slots := jsonObject(r.OccupiedSlots)
		stat := jsonObject(r.LastStat)
		k := binAmounts{
			count:   1,
			cpu:     amount(slots["cpu"]),
			mem:     amount(slots["mem"]).IntPart(),
			gpu:     amount(slots["cuda.devices"]).Add(amount(slots["cuda.shares"])),
			ioRead:  int64(num(metric(stat, "io_read", "current"))),
			ioWrite: int64(num(metric(stat, "io_write", "current"))),
			disk:    int64(num(metric(stat, "io_scratch_size", "stats.max"))),
		}
		diff[first].add(k, 1)
		diff[last+1].add(k, -1)
	}
	out := make([]StatBin, statBins)
	var run binAmounts
	for i := range out {
		run.add(diff[i], 1)
		cpu, _ := run.cpu.Float64()
		gpu, _ := run.gpu.Float64()
		out[i] = StatBin{
			Date:         float64(start.UnixMicro()+int64(i)*statBinSeconds*1e6) / 1e6,
			NumSessions:  StatValue{Value: float64(run.count), UnitHint: "count"},
			CPUAllocated: StatValue{Value: cpu, UnitHint: "count"},
			MemAllocated: StatValue{Value: float64(run.mem), UnitHint: "bytes"},
			GPUAllocated: StatValue{Value: gpu, UnitHint: "count"},
			IOReadBytes:  StatValue{Value: float64(run.ioRead), UnitHint: "bytes"},
			IOWriteBytes: StatValue{Value: float64(run.ioWrite), UnitHint: "bytes"},
			DiskUsed:     StatValue{Value: float64(run.disk), UnitHint: "bytes"},
		}
	}
	return out
}

// amount reads a slot amount (a decimal string or a JSON number); anything else, negative
// amounts included, is zero.
func amount(v any) decimal.Decimal {
	var d decimal.Decimal
	var err error
	switch x := v.(type) {
	case string:
		d, err = decimal.NewFromString(x)
	case float64:
		d = decimal.NewFromFloat(x)
	default:
		return decimal.Zero
	}
	if err != nil || d.IsNegative() {
		return decimal.Zero
	}
	return d
}
