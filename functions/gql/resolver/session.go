package resolver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"github.com/hangar-run/hangar/functions/gql/model"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
	"github.com/hangar-run/hangar/internal/minilang"
)

// sessionFields is compute_session_list's filter/order table.
var sessionFields = typedFields(minilang.Fields{ //nolint:gochecknoglobals // read-only table
	"id":              {Column: "s.id", Convert: minilang.UUID},
	"type":            {Column: "s.session_type", Convert: minilang.EnumNames("INTERACTIVE", "BATCH", "INFERENCE")},
	"name":            {Column: "s.name", Convert: minilang.AsString},
	"image":           {Column: "s.images", Array: true, Convert: minilang.AsString},
	"agent_ids":       {Column: "s.agent_ids", Array: true, NoOrder: true, Convert: minilang.AsString},
	"agent_id":        {Column: "s.agent_ids", Array: true, NoOrder: true, Convert: minilang.AsString},
	"agents":          {Column: "s.agent_ids", Array: true, NoOrder: true, Convert: minilang.AsString},
	"domain_name":     {Column: "s.domain_name", Convert: minilang.AsString},
	"group_name":      {Column: "g.name", Convert: minilang.AsString},
	"user_email":      {Column: "u.email", Convert: minilang.AsString},
	"user_id":         {Column: "s.user_uuid", Convert: minilang.UUID},
	"full_name":       {Column: "u.full_name", Convert: minilang.AsString},
	"access_key":      {Column: "s.access_key", Convert: minilang.AsString},
	"scaling_group":   {Column: "s.scaling_group_name", Convert: minilang.AsString},
	"cluster_mode":    {Column: "s.cluster_mode", Convert: clusterMode},
	"cluster_size":    {Column: "s.cluster_size", Convert: minilang.AsInt32},
	"status":          {Column: "s.status", Convert: minilang.EnumNames(sessionStatuses...)},
	"status_info":     {Column: "s.status_info", Convert: minilang.AsString},
	"result":          {Column: "s.result", Convert: minilang.EnumNames("UNDEFINED", "SUCCESS", "FAILURE")},
	"created_at":      {Column: "s.created_at", Convert: minilang.Timestamp},
	"terminated_at":   {Column: "s.terminated_at", Convert: minilang.Timestamp},
	"starts_at":       {Column: "s.starts_at", Convert: minilang.Timestamp},
	"scheduled_at":    {Column: "(s.status_history ->> 'SCHEDULED')::timestamptz", Convert: minilang.Timestamp},
	"startup_command": {Column: "s.startup_command", NoOrder: true, Convert: minilang.AsString},
})

// agentFieldNames are the filter/order names of the session and container tables that
// identify agents: unknown to callers the agents are hidden from.
var agentFieldNames = []string{"agent_ids", "agent_id", "agents", "agent", "agent_addr"} //nolint:gochecknoglobals // read-only table

// withoutAgents is fields less the names identifying agents.
func withoutAgents(fields minilang.Fields) minilang.Fields {
	out := make(minilang.Fields, len(fields))
	for name, f := range fields {
		if !slices.Contains(agentFieldNames, name) {
			out[name] = f
		}
	}
	return out
}

// The tables for callers the agents are hidden from.
var (
	sessionFieldsNoAgents   = withoutAgents(sessionFields)   //nolint:gochecknoglobals // read-only table
	containerFieldsNoAgents = withoutAgents(containerFields) //nolint:gochecknoglobals // read-only table
)

var sessionStatuses = []string{ //nolint:gochecknoglobals // read-only table
	"PENDING", "SCHEDULED", "PULLING", "PREPARING", "RUNNING", "RESTARTING", "RUNNING_DEGRADED",
	"TERMINATING", "TERMINATED", "ERROR", "CANCELLED",
}

// clusterMode converts ClusterMode names (SINGLE_NODE, MULTI_NODE) to the stored values.
func clusterMode(v minilang.Value) (any, error) {
	name, err := minilang.EnumNames("SINGLE_NODE", "MULTI_NODE")(v)
	if err != nil {
		return nil, err
	}
	return strings.ReplaceAll(strings.ToLower(fmt.Sprint(name)), "_", "-"), nil
}

// statusNames parses a comma-separated list of status names; an unknown one is an error
// whose text is the name quoted, as Backend.AI's KeyError gives.
func statusNames(arg *string, known []string) ([]string, error) {
	if arg == nil || *arg == "" {
		return nil, nil
	}
	var out []string
	for _, s := range strings.Split(*arg, ",") {
		ok := false
		for _, k := range known {
			if s == k {
				ok = true
				break
			}
		}
		if !ok {
			return nil, fmt.Errorf("'%s'", s)
		}
		out = append(out, s)
	}
	return out, nil
}

// sessionQuery is the scoped base of compute_session_list and compute_session; hide leaves
// the agent names out of the filter/order table.
func sessionQuery(ctx context.Context, domainName, accessKey *string, hide bool) (*listQuery, error) {
	id := caller(ctx)
	sc, err := scopeOn(ctx, domainName, accessKey, id.AccessKey, false)
	if err != nil {
		return nil, err
	}
	q := &listQuery{
		Select: "s.*",
		From:   "sessions s JOIN users u ON u.uuid = s.user_uuid JOIN groups g ON g.id = s.group_id",
		Fields: sessionFields, DefaultOrder: "greatest(s.created_at, s.terminated_at) DESC", Tiebreak: "s.id",
	}
	if hide {
		q.Fields = sessionFieldsNoAgents
	}
	if sc.Domain != "" {
		q.where("s.domain_name = ?", sc.Domain)
	}
	if sc.Key != "" {
		q.where("s.access_key = ?", sc.Key)
	}
	return q, nil
}

func (r *queriesResolver) computeSessionList(ctx context.Context, limit, offset int, filter, order, domainName, groupID, accessKey, status *string) (*model.ComputeSessionList, error) {
	q, err := sessionQuery(ctx, domainName, accessKey, r.agentsHidden(ctx))
	if err != nil {
		return nil, err
	}
	if groupID != nil && *groupID != "" {
		gid, err := uuid.Parse(*groupID)
		if err != nil {
			return nil, errors.New("badly formed hexadecimal UUID string")
		}
		q.where("s.group_id = ?", gid)
	}
	statuses, err := statusNames(status, sessionStatuses)
	if err != nil {
		return nil, err
	}
	if statuses != nil {
		q.where("s.status::text = ANY(?)", statuses)
	}
	rows, total, err := runList[dbsqlc.Session](ctx, r.Deps.Pool, q, limit, offset, filter, order)
	if err != nil {
		return nil, err
	}
	if err := prefetchSessions(ctx, rows, pageSelection(ctx, "ComputeSession")); err != nil {
		return nil, err
	}
	hide := r.agentsHidden(ctx)
	out := &model.ComputeSessionList{Items: make([]*model.ComputeSession, len(rows)), TotalCount: total}
	for i, s := range rows {
		out.Items[i] = sessionModel(s, hide)
	}
	return out, nil
}

func (r *queriesResolver) computeSession(ctx context.Context, id uuid.UUID) (*model.ComputeSession, error) {
	q, err := sessionQuery(ctx, nil, nil, false)
	if err != nil {
		return nil, err
	}
	q.where("s.id = ?", id)
	rows, err := runAll[dbsqlc.Session](ctx, r.Deps.Pool, q, 1)
	if err != nil || len(rows) == 0 {
		return nil, err
	}
	if err := prefetchSessions(ctx, rows, rootSelection(ctx, "ComputeSession")); err != nil {
		return nil, err
	}
	return sessionModel(rows[0], r.agentsHidden(ctx)), nil
}

// agentsHidden reports whether the agents are hidden from the caller: manager.toml's
// hide-agents is on and the caller is not a superadmin.
func (r *Resolver) agentsHidden(ctx context.Context) bool {
	return r.Deps.HideAgents && !caller(ctx).IsSuperadmin()
}

// sessionModel is the ComputeSession of a row; fields from other rows have resolvers. hide
// leaves out the agents the session runs on (agent_ids, agents).
func sessionModel(s *dbsqlc.Session, hide bool) *model.ComputeSession {
	image := ""
	if len(s.Images) > 0 {
		image = s.Images[0]
	}
	m := &model.ComputeSession{
		ID: idOf(s.ID.String()), SessionID: uuidp(s.ID), Tag: s.Tag, Name: str(s.Name),
		Type: str(string(s.SessionType)), MainKernelRole: str("COMPUTE"), Image: str(image),
		ClusterMode: str(s.ClusterMode), ClusterSize: intp(s.ClusterSize),
		DomainName: str(s.DomainName), GroupID: uuidp(s.GroupID), UserID: uuidp(s.UserUuid),
		AccessKey: str(s.AccessKey), Status: str(string(s.Status)), StatusChanged: timep(s.StatusChanged),
		StatusInfo: s.StatusInfo, StatusData: model.RawJSON(s.StatusData),
		StatusHistory: jsonOrEmpty(s.StatusHistory), CreatedAt: timep(s.CreatedAt),
		TerminatedAt: optTime(s.TerminatedAt), StartsAt: optTime(s.StartsAt),
		ScheduledAt: historyTime(s.StatusHistory, "SCHEDULED"), StartupCommand: s.StartupCommand,
		Result: str(string(s.Result)), CommitStatus: str("ready"), AgentIds: strs(s.AgentIds),
		Agents: strs(s.AgentIds), ScalingGroup: s.ScalingGroupName,
		RequestedSlots: jsonOrEmpty(s.RequestedSlots), NumQueries: ptr(s.NumQueries),
		InferenceMetrics: model.JSON(map[string]int{"requests": 0, "last_response_ms": 0}),
	}
	m.Mounts, m.VfolderMounts = mounts(s.VfolderMounts)
	switch {
	case hide:
		m.AgentIds, m.Agents = nil, nil
	case len(s.AgentIds) == 0:
		m.AgentIds, m.Agents = []*string{}, []*string{}
	}
	return m
}

// mounts lists the session's mounted folder names and each mount as JSON text.
func mounts(raw json.RawMessage) (names, full []*string) {
	var ms []json.RawMessage
	_ = json.Unmarshal(raw, &ms)
	names, full = []*string{}, []*string{}
	for _, m := range ms {
		var v struct {
			Name string `json:"name"`
		}
		_ = json.Unmarshal(m, &v)
		names = append(names, str(v.Name))
		full = append(full, str(string(m)))
	}
	return names, full
}

// historyTime reads one status's time from a status_history object.
func historyTime(raw json.RawMessage, status string) *time.Time {
	var h map[string]any
	if json.Unmarshal(raw, &h) != nil {
		return nil
	}
	s, ok := h[status].(string)
	if !ok {
		return nil
	}
	t, err := model.UnmarshalDateTime(s)
	if err != nil {
		return nil
	}
	return &t
}

// sessionKernels loads the kernels of the session behind obj (main kernel first).
func sessionKernels(ctx context.Context, obj *model.ComputeSession) ([]*dbsqlc.Kernel, error) {
	if obj.SessionID == nil {
		return nil, nil
	}
	return loaders(ctx).Kernels.Load(ctx, *obj.SessionID)
}

func mainKernel(ks []*dbsqlc.Kernel) *dbsqlc.Kernel {
	for _, k := range ks {
		if k.ClusterRole == "main" {
			return k
		}
	}
	if len(ks) > 0 {
		return ks[0]
	}
	return nil
}

// sumSlots is the decimal sum of the kernels' occupied slots, values as decimal strings.
func sumSlots(ks []*dbsqlc.Kernel) model.JSONString {
	sum := map[string]decimal.Decimal{}
	for _, k := range ks {
		var slots map[string]any
		if json.Unmarshal(k.OccupiedSlots, &slots) != nil {
			continue
		}
		for name, v := range slots {
			d, err := decimal.NewFromString(strings.TrimSpace(fmt.Sprint(v)))
			if err != nil {
				continue
			}
			sum[name] = sum[name].Add(d)
		}
	}
	out := make(map[string]string, len(sum))
	for k, v := range sum {
		out[k] = v.String()
	}
	return model.JSON(out)
}

// containerModel is the ComputeContainer of a kernel row; hide leaves out the agent holding
// the container (agent, agent_addr, container_id), as hide-agents does.
func containerModel(k *dbsqlc.Kernel, hide bool) *model.ComputeContainer {
	hostname := k.ClusterHostname
	var preopen []*int
	for _, p := range k.PreopenPorts {
		preopen = append(preopen, intp(p))
	}
	if preopen == nil {
		preopen = []*int{}
	}
	m := &model.ComputeContainer{
		ID: idOf(k.ID.String()), Idx: intp(k.ClusterIdx), Role: str(k.ClusterRole), Hostname: &hostname,
		KernelID: uuidp(k.ID), ClusterIdx: intp(k.ClusterIdx), LocalRank: intp(k.LocalRank),
		ClusterRole: str(k.ClusterRole), ClusterHostname: &hostname, SessionID: uuidp(k.SessionID),
		Image: k.Image, Architecture: str(k.Architecture), Registry: k.Registry,
		Status: str(string(k.Status)), StatusChanged: timep(k.StatusChanged), StatusInfo: k.StatusInfo,
		StatusData: model.RawJSON(k.StatusData), CreatedAt: timep(k.CreatedAt),
		TerminatedAt: optTime(k.TerminatedAt), StartsAt: optTime(k.StartsAt),
		ScheduledAt: historyTime(k.StatusHistory, "SCHEDULED"), Agent: k.Agent, AgentAddr: k.AgentAddr,
		ContainerID: k.ContainerID, ResourceOpts: jsonOrEmpty(k.ResourceOpts),
		OccupiedSlots: jsonOrEmpty(k.OccupiedSlots), LiveStat: model.RawJSON(k.LastStat),
		LastStat: model.RawJSON(k.LastStat), PreopenPorts: preopen,
	}
	if hide {
		m.Agent, m.AgentAddr, m.ContainerID = nil, nil, nil
	}
	return m
}

// containerFields is compute_container_list's filter/order table.
var containerFields = typedFields(minilang.Fields{ //nolint:gochecknoglobals // read-only table
	"image":            {Column: "k.image", Convert: minilang.AsString},
	"architecture":     {Column: "k.architecture", Convert: minilang.AsString},
	"agent":            {Column: "k.agent", Convert: minilang.AsString},
	"agent_addr":       {Column: "k.agent_addr", Convert: minilang.AsString},
	"cluster_idx":      {Column: "k.cluster_idx", Convert: minilang.AsInt32},
	"local_rank":       {Column: "k.local_rank", Convert: minilang.AsInt32},
	"cluster_role":     {Column: "k.cluster_role", Convert: minilang.AsString},
	"cluster_hostname": {Column: "k.cluster_hostname", Convert: minilang.AsString},
	"status":           {Column: "k.status", Convert: minilang.EnumNames(kernelStatuses...)},
	"status_info":      {Column: "k.status_info", Convert: minilang.AsString},
	"created_at":       {Column: "k.created_at", Convert: minilang.Timestamp},
	"status_changed":   {Column: "k.status_changed", Convert: minilang.Timestamp},
	"terminated_at":    {Column: "k.terminated_at", Convert: minilang.Timestamp},
	"scheduled_at":     {Column: "(k.status_history ->> 'SCHEDULED')::timestamptz", Convert: minilang.Timestamp},
})

var kernelStatuses = []string{ //nolint:gochecknoglobals // read-only table
	"PENDING", "SCHEDULED", "PREPARING", "BUILDING", "PULLING", "RUNNING", "RESTARTING", "RESIZING",
	"SUSPENDED", "TERMINATING", "TERMINATED", "ERROR", "CANCELLED",
}

// containerQuery is the scoped base of compute_container_list and compute_container; hide
// leaves the agent names out of the filter/order table.
func containerQuery(ctx context.Context, hide bool) (*listQuery, error) {
	id := caller(ctx)
	sc, err := scopeOn(ctx, nil, nil, id.AccessKey, false)
	if err != nil {
		return nil, err
	}
	q := &listQuery{
		Select: "k.*", From: "kernels k", Fields: containerFields,
		DefaultOrder: "greatest(k.created_at, k.terminated_at, k.status_changed) DESC", Tiebreak: "k.id",
	}
	if hide {
		q.Fields = containerFieldsNoAgents
	}
	if sc.Domain != "" {
		q.where("k.domain_name = ?", sc.Domain)
	}
	if sc.Key != "" {
		q.where("k.access_key = ?", sc.Key)
	}
	return q, nil
}

func (r *queriesResolver) computeContainerList(ctx context.Context, limit, offset int, filter, order *string, sessionID string, role *string) (*model.ComputeContainerList, error) {
	sid, err := uuid.Parse(sessionID)
	if err != nil {
		return nil, errors.New("badly formed hexadecimal UUID string")
	}
	q, err := containerQuery(ctx, r.agentsHidden(ctx))
	if err != nil {
		return nil, err
	}
	q.where("k.session_id = ?", sid)
	if role != nil && *role != "" {
		q.where("k.cluster_role = ?", *role)
	}
	rows, total, err := runList[dbsqlc.Kernel](ctx, r.Deps.Pool, q, limit, offset, filter, order)
	if err != nil {
		return nil, err
	}
	hide := r.agentsHidden(ctx)
	out := &model.ComputeContainerList{Items: make([]*model.ComputeContainer, len(rows)), TotalCount: total}
	for i, k := range rows {
		out.Items[i] = containerModel(k, hide)
	}
	return out, nil
}

func (r *queriesResolver) computeContainer(ctx context.Context, id uuid.UUID) (*model.ComputeContainer, error) {
	q, err := containerQuery(ctx, false)
	if err != nil {
		return nil, err
	}
	q.where("k.id = ?", id)
	rows, err := runAll[dbsqlc.Kernel](ctx, r.Deps.Pool, q, 1)
	if err != nil || len(rows) == 0 {
		return nil, err
	}
	return containerModel(rows[0], r.agentsHidden(ctx)), nil
}
