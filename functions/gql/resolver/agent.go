package resolver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/shopspring/decimal"

	"github.com/hangar-run/hangar/functions/gql/model"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
	"github.com/hangar-run/hangar/internal/minilang"
)

var agentStatuses = []string{"ALIVE", "LOST", "RESTARTING", "TERMINATED"} //nolint:gochecknoglobals // read-only table

// The slot objects of an agent row: capacity (available_slots) and occupancy, slot → amount.
const (
	agentAvailableSQL = `COALESCE((SELECT jsonb_object_agg(sl.slot, sl.capacity) FROM agent_slots sl WHERE sl.agent_id = a.id), '{}')`
	agentOccupiedSQL  = `COALESCE((SELECT jsonb_object_agg(sl.slot, sl.occupied) FROM agent_slots sl WHERE sl.agent_id = a.id), '{}')`
	// agentLiveKernelStatuses are the kernel statuses that hold a container on an agent.
	agentLiveKernelStatuses = `'PREPARING', 'BUILDING', 'PULLING', 'RUNNING', 'RESTARTING', 'RESIZING', 'SUSPENDED', 'TERMINATING'`
)

// agentSelect is the agent row plus the figures computed from other tables, in agentRow's
// order: slot objects, the number of containers on the agent, and the utilization of its
// kernels in their latest heartbeat sample (CPU in percent of one core, memory in bytes, and
// how many kernels the sample covered).
const agentSelect = `a.*, ` + agentAvailableSQL + `, ` + agentOccupiedSQL + `,
	(SELECT count(*) FROM kernels k WHERE k.agent = a.id AND k.status IN (` + agentLiveKernelStatuses + `))::int,
	(SELECT jsonb_build_object(
	    'cpu', sum(CASE WHEN jsonb_typeof(u.metrics -> 'cpu_util') = 'number'
	               THEN (u.metrics ->> 'cpu_util')::float8 * COALESCE((k.occupied_slots ->> 'cpu')::float8, 0) END),
	    'mem', sum(CASE WHEN jsonb_typeof(u.metrics -> 'mem') = 'number'
	               THEN (u.metrics ->> 'mem')::float8 / 100 * COALESCE((k.occupied_slots ->> 'mem')::float8, 0) END),
	    'kernels', count(*))
	 FROM kernel_utilization u JOIN kernels k ON k.id = u.kernel_id
	 WHERE k.agent = a.id AND u.at = (
	     SELECT max(u2.at) FROM kernel_utilization u2 JOIN kernels k2 ON k2.id = u2.kernel_id WHERE k2.agent = a.id))`

// agentRow is one row of agentSelect.
type agentRow struct {
	dbsqlc.Agent
	Available      json.RawMessage
	Occupied       json.RawMessage
	ContainerCount int32
	Usage          json.RawMessage
}

// agentFields is agent_list's filter/order table (§6.3; schedulable and first_contact work).
var agentFields = typedFields(minilang.Fields{ //nolint:gochecknoglobals // read-only table
	"id":              {Column: "a.id", Convert: minilang.AsString},
	"status":          {Column: "a.status", Convert: minilang.EnumNames(agentStatuses...)},
	"status_changed":  {Column: "a.status_changed", Convert: minilang.Timestamp},
	"region":          {Column: "a.region", Convert: minilang.AsString},
	"scaling_group":   {Column: "a.scaling_group", Convert: minilang.AsString},
	"schedulable":     {Column: "a.schedulable", Convert: minilang.AsBool},
	"addr":            {Column: "a.addr", Convert: minilang.AsString},
	"first_contact":   {Column: "a.first_contact", Convert: minilang.Timestamp},
	"lost_at":         {Column: "a.lost_at", Convert: minilang.Timestamp},
	"version":         {Column: "a.version", Convert: minilang.AsString},
	"architecture":    {Column: "a.architecture", Convert: minilang.AsString},
	"available_slots": {Column: agentAvailableSQL, NoFilter: true},
	"occupied_slots":  {Column: agentOccupiedSQL, NoFilter: true},
})

// agentSummaryFields is agent_summary_list's table.
var agentSummaryFields = typedFields(minilang.Fields{ //nolint:gochecknoglobals // read-only table
	"id":            {Column: "a.id", Convert: minilang.AsString},
	"status":        {Column: "a.status", Convert: minilang.EnumNames(agentStatuses...)},
	"scaling_group": {Column: "a.scaling_group", Convert: minilang.AsString},
	"schedulable":   {Column: "a.schedulable", Convert: minilang.AsBool},
})

// errNoSuchAgent is the answer of the agent summaries while agents are hidden.
var errNoSuchAgent = errors.New("No such agent.")

func agentQuery(fields minilang.Fields) *listQuery {
	return &listQuery{
		Select: agentSelect, From: "agents a", Fields: fields,
		DefaultOrder: "a.status, a.scaling_group, a.id", Tiebreak: "a.id",
	}
}

// agentArgs applies the scaling_group and status arguments; multi allows a comma-separated
// status list (agent_list) instead of one name.
func agentArgs(q *listQuery, scalingGroup, status *string, multi bool) error {
	if scalingGroup != nil && *scalingGroup != "" {
		q.where("a.scaling_group = ?", *scalingGroup)
	}
	if status == nil || *status == "" {
		return nil
	}
	if !multi && strings.Contains(*status, ",") {
		return fmt.Errorf("'%s'", *status)
	}
	names, err := statusNames(status, agentStatuses)
	if err != nil {
		return err
	}
	q.where("a.status::text = ANY(?)", names)
	return nil
}

func (r *queriesResolver) agentRows(ctx context.Context, q *listQuery, limit int) ([]*model.Agent, error) {
	rows, err := runAll[agentRow](ctx, r.Deps.Pool, q, limit)
	if err != nil {
		return nil, err
	}
	if err := prefetchAgents(ctx, rows, rootSelection(ctx, "Agent")); err != nil {
		return nil, err
	}
	out := make([]*model.Agent, len(rows))
	for i, a := range rows {
		out[i] = agentModel(a)
	}
	return out, nil
}

func (r *queriesResolver) agent(ctx context.Context, agentID string) (*model.Agent, error) {
	if err := requireSuperadmin(ctx); err != nil {
		return nil, err
	}
	q := agentQuery(agentFields)
	q.where("a.id = ?", agentID)
	rows, err := r.agentRows(ctx, q, 1)
	if err != nil || len(rows) == 0 {
		return nil, err
	}
	return rows[0], nil
}

func (r *queriesResolver) agents(ctx context.Context, scalingGroup, status *string) ([]*model.Agent, error) {
	if err := requireSuperadmin(ctx); err != nil {
		return nil, err
	}
	q := agentQuery(agentFields)
	if err := agentArgs(q, scalingGroup, status, false); err != nil {
		return nil, err
	}
	return r.agentRows(ctx, q, 0)
}

func (r *queriesResolver) agentList(ctx context.Context, limit, offset int, filter, order, scalingGroup, status *string) (*model.AgentList, error) {
	if err := requireSuperadmin(ctx); err != nil {
		return nil, err
	}
	q := agentQuery(agentFields)
	if err := agentArgs(q, scalingGroup, status, true); err != nil {
		return nil, err
	}
	rows, total, err := runList[agentRow](ctx, r.Deps.Pool, q, limit, offset, filter, order)
	if err != nil {
		return nil, err
	}
	if err := prefetchAgents(ctx, rows, pageSelection(ctx, "Agent")); err != nil {
		return nil, err
	}
	out := &model.AgentList{Items: make([]*model.Agent, len(rows)), TotalCount: total}
	for i, a := range rows {
		out.Items[i] = agentModel(a)
	}
	return out, nil
}

// summaryQuery is the base of the agent summaries: every role, but only agents of the
// scaling groups the calling keypair may use (its domain's, its projects', its own), also
// when a scaling_group argument names one.
func (r *queriesResolver) summaryQuery(ctx context.Context) (*listQuery, error) {
	id := caller(ctx)
	if r.Deps.HideAgents {
		return nil, errNoSuchAgent
	}
	q := agentQuery(agentSummaryFields)
	q.where(`a.scaling_group IN (
		SELECT sg.name FROM scaling_groups sg WHERE sg.is_active AND (
		    sg.name IN (SELECT scaling_group FROM sgroups_for_domains WHERE domain = ?)
		    OR sg.name IN (SELECT sfg.scaling_group FROM sgroups_for_groups sfg
		                   JOIN association_groups_users agu ON agu.group_id = sfg."group"
		                   WHERE agu.user_id = ?)
		    OR sg.name IN (SELECT scaling_group FROM sgroups_for_keypairs WHERE access_key = ?)))`,
		id.Domain(), id.User.Uuid, id.AccessKey)
	return q, nil
}

func (r *queriesResolver) agentSummary(ctx context.Context, agentID string) (*model.AgentSummary, error) {
	q, err := r.summaryQuery(ctx)
	if err != nil {
		return nil, err
	}
	q.where("a.id = ?", agentID)
	rows, err := runAll[agentRow](ctx, r.Deps.Pool, q, 1)
	if err != nil || len(rows) == 0 {
		return nil, err
	}
	return agentSummaryModel(rows[0]), nil
}

func (r *queriesResolver) agentSummaryList(ctx context.Context, limit, offset int, filter, order, scalingGroup, status *string) (*model.AgentSummaryList, error) {
	q, err := r.summaryQuery(ctx)
	if err != nil {
		return nil, err
	}
	if err := agentArgs(q, scalingGroup, status, false); err != nil {
		return nil, err
	}
	rows, total, err := runList[agentRow](ctx, r.Deps.Pool, q, limit, offset, filter, order)
	if err != nil {
		return nil, err
	}
	out := &model.AgentSummaryList{Items: make([]*model.AgentSummary, len(rows)), TotalCount: total}
	for i, a := range rows {
		out.Items[i] = agentSummaryModel(a)
	}
	return out, nil
}

// agentComputeContainers is Agent.compute_containers: the kernels on the agent whose status
// is in the comma-separated status argument, or the kernels holding a container there when
// it is absent.
func agentComputeContainers(ctx context.Context, obj *model.Agent, status *string) ([]*model.ComputeContainer, error) {
	if obj.ID == nil {
		return nil, nil
	}
	key, err := agentKernelsFor(*obj.ID, status)
	if err != nil {
		return nil, err
	}
	ks, err := loaders(ctx).AgentKernels.Load(ctx, key)
	if err != nil {
		return nil, err
	}
	// Agents are a superadmin's, who always sees them.
	out := make([]*model.ComputeContainer, len(ks))
	for i, k := range ks {
		out[i] = containerModel(k, false)
	}
	return out, nil
}

// slotAmounts reads a slot object into decimals (unparsable amounts are left out).
func slotAmounts(raw json.RawMessage) map[string]decimal.Decimal {
	var m map[string]json.Number
	_ = json.Unmarshal(raw, &m)
	out := make(map[string]decimal.Decimal, len(m))
	for k, v := range m {
		if d, err := decimal.NewFromString(v.String()); err == nil {
			out[k] = d
		}
	}
	return out
}

// slotJSON is ResourceSlot JSON: every amount a decimal string without exponent.
func slotJSON(slots map[string]decimal.Decimal) model.JSONString {
	out := make(map[string]string, len(slots))
	for k, v := range slots {
		out[k] = v.String()
	}
	return model.JSON(out)
}

func slotFloat(slots map[string]decimal.Decimal, names ...string) *float64 {
	var sum decimal.Decimal
	for _, n := range names {
		sum = sum.Add(slots[n])
	}
	f := sum.InexactFloat64()
	return &f
}

// agentModel is the Agent of a row. The legacy *_slots fields derive from the slots (memory
// in MiB); live_stat, cpu_cur_pct and mem_cur_bytes from the utilization the agent's
// kernels reported in its latest heartbeat.
func agentModel(a *agentRow) *model.Agent {
	avail, occ := slotAmounts(a.Available), slotAmounts(a.Occupied)
	mib := decimal.NewFromInt(1 << 20)
	memSlots := int(avail["mem"].Div(mib).IntPart())
	usedMem := int(occ["mem"].Div(mib).IntPart())
	m := &model.Agent{
		ID: str(a.ID), Status: str(string(a.Status)), StatusChanged: optTime(a.StatusChanged),
		Region: str(a.Region), ScalingGroup: str(a.ScalingGroup), Schedulable: ptr(a.Schedulable),
		AvailableSlots: slotJSON(avail), OccupiedSlots: slotJSON(occ), Addr: str(a.Addr),
		Architecture: str(a.Architecture), FirstContact: timep(a.FirstContact), LostAt: optTime(a.LostAt),
		Version: str(a.Version), ComputePlugins: jsonOrEmpty(a.ComputePlugins),
		AutoTerminateAbusingKernel: ptr(a.AutoTerminateAbusingKernel),
		LocalConfig: model.JSON(map[string]any{"agent": map[string]any{
			"auto_terminate_abusing_kernel": a.AutoTerminateAbusingKernel,
		}}),
		ContainerCount: intp(a.ContainerCount),
		MemSlots:       &memSlots, CPUSlots: slotFloat(avail, "cpu"),
		GpuSlots: slotFloat(avail, "cuda.device", "cuda.shares"), TpuSlots: slotFloat(avail, "tpu.device"),
		UsedMemSlots: &usedMem, UsedCPUSlots: slotFloat(occ, "cpu"),
		UsedGpuSlots: slotFloat(occ, "cuda.device", "cuda.shares"), UsedTpuSlots: slotFloat(occ, "tpu.device"),
		CPUCurPct: ptr(0.0), MemCurBytes: ptr(0.0),
	}
	if a.Status == dbsqlc.AgentStatusALIVE {
		m.HardwareMetadata = hardwareMetadata(avail)
		m.LiveStat, m.CPUCurPct, m.MemCurBytes = liveStat(a.Usage, avail)
	}
	return m
}

// hardwareMetadata reports, per compute device kind the agent has slots of (cpu, mem, cuda,
// ...), the health the agent's heartbeats imply: the agent reports only devices it can use.
func hardwareMetadata(avail map[string]decimal.Decimal) model.JSONString {
	out := map[string]any{}
	for slot := range avail {
		kind, _, _ := strings.Cut(slot, ".")
		out[kind] = map[string]any{"status": "healthy", "status_info": nil, "metadata": map[string]any{}}
	}
	return model.JSON(out)
}

// liveStat is Backend.AI's agent stat shape, {"node": {metric: MetricValue}, "devices":
// {metric: {device: MetricValue}}}, from the summed kernel utilization of the agent's latest
// heartbeat; null when there is no sample.
func liveStat(raw json.RawMessage, avail map[string]decimal.Decimal) (model.JSONString, *float64, *float64) {
	var u struct {
		CPU     *float64 `json:"cpu"`
		Mem     *float64 `json:"mem"`
		Kernels int      `json:"kernels"`
	}
	zero := 0.0
	if json.Unmarshal(raw, &u) != nil || u.Kernels == 0 {
		return nil, &zero, &zero
	}
	metric := func(cur, capacity float64, hint string, integral bool) map[string]any {
		pct := "0.00"
		if capacity > 0 {
			pct = fmt.Sprintf("%.2f", cur/capacity*100)
		}
		f := func(v float64) string {
			if integral {
				return fmt.Sprintf("%d", int64(v))
			}
			return fmt.Sprintf("%.2f", v)
		}
		return map[string]any{"current": f(cur), "capacity": f(capacity), "pct": pct, "unit_hint": hint}
	}
	cpu, mem := 0.0, 0.0
	if u.CPU != nil {
		cpu = *u.CPU
	}
	if u.Mem != nil {
		mem = *u.Mem
	}
	cpuCap := avail["cpu"].InexactFloat64() * 100
	memCap := avail["mem"].InexactFloat64()
	cpuM := metric(cpu, cpuCap, "percent", false)
	memM := metric(mem, memCap, "bytes", true)
	stat := map[string]any{
		"node":    map[string]any{"cpu_util": cpuM, "mem": memM},
		"devices": map[string]any{"cpu_util": map[string]any{}, "mem": map[string]any{"root": memM}},
	}
	pct := 0.0
	if cpuCap > 0 {
		pct = cpu / cpuCap * 100
	}
	memBytes := float64(int64(mem))
	return model.JSON(stat), &pct, &memBytes
}

func agentSummaryModel(a *agentRow) *model.AgentSummary {
	return &model.AgentSummary{
		ID: str(a.ID), Status: str(string(a.Status)), ScalingGroup: str(a.ScalingGroup),
		Schedulable: ptr(a.Schedulable), AvailableSlots: slotJSON(slotAmounts(a.Available)),
		OccupiedSlots: slotJSON(slotAmounts(a.Occupied)), Architecture: str(a.Architecture),
	}
}
