package resolver

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/google/uuid"

	"github.com/hangar-run/hangar/functions/gql/model"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
)

// Every scaling-group root field is superadmin-only; lists are by name.

func scalingGroupQuery(isActive *bool) *listQuery {
	q := &listQuery{Select: "sg.*", From: "scaling_groups sg", DefaultOrder: "sg.name"}
	if isActive != nil {
		q.where("sg.is_active = ?", *isActive)
	}
	return q
}

func (r *queriesResolver) scalingGroupRows(ctx context.Context, q *listQuery, limit int) ([]*model.ScalingGroup, error) {
	rows, err := runAll[dbsqlc.ScalingGroup](ctx, r.Deps.Pool, q, limit)
	if err != nil {
		return nil, err
	}
	out := make([]*model.ScalingGroup, len(rows))
	for i, sg := range rows {
		out[i] = scalingGroupModel(sg)
	}
	return out, nil
}

func (r *queriesResolver) scalingGroup(ctx context.Context, name *string) (*model.ScalingGroup, error) {
	if err := requireSuperadmin(ctx); err != nil {
		return nil, err
	}
	if name == nil {
		return nil, nil
	}
	q := scalingGroupQuery(nil)
	q.where("sg.name = ?", *name)
	rows, err := r.scalingGroupRows(ctx, q, 1)
	if err != nil || len(rows) == 0 {
		return nil, err
	}
	return rows[0], nil
}

// scalingGroups also honours name (upstream's resolver lacks the argument and fails).
func (r *queriesResolver) scalingGroups(ctx context.Context, name *string, isActive *bool) ([]*model.ScalingGroup, error) {
	if err := requireSuperadmin(ctx); err != nil {
		return nil, err
	}
	q := scalingGroupQuery(isActive)
	if name != nil && *name != "" {
		q.where("sg.name = ?", *name)
	}
	return r.scalingGroupRows(ctx, q, 0)
}

func (r *queriesResolver) scalingGroupsForDomain(ctx context.Context, domain string, isActive *bool) ([]*model.ScalingGroup, error) {
	if err := requireSuperadmin(ctx); err != nil {
		return nil, err
	}
	q := scalingGroupQuery(isActive)
	q.where("sg.name IN (SELECT scaling_group FROM sgroups_for_domains WHERE domain = ?)", domain)
	return r.scalingGroupRows(ctx, q, 0)
}

func (r *queriesResolver) scalingGroupsForUserGroup(ctx context.Context, userGroup string, isActive *bool) ([]*model.ScalingGroup, error) {
	if err := requireSuperadmin(ctx); err != nil {
		return nil, err
	}
	gid, err := uuid.Parse(userGroup)
	if err != nil {
		return nil, errors.New("badly formed hexadecimal UUID string")
	}
	q := scalingGroupQuery(isActive)
	q.where(`sg.name IN (SELECT scaling_group FROM sgroups_for_groups WHERE "group" = ?)`, gid)
	return r.scalingGroupRows(ctx, q, 0)
}

func (r *queriesResolver) scalingGroupsForKeypair(ctx context.Context, accessKey string, isActive *bool) ([]*model.ScalingGroup, error) {
	if err := requireSuperadmin(ctx); err != nil {
		return nil, err
	}
	q := scalingGroupQuery(isActive)
	q.where("sg.name IN (SELECT scaling_group FROM sgroups_for_keypairs WHERE access_key = ?)", accessKey)
	return r.scalingGroupRows(ctx, q, 0)
}

// schedulerOpts is the stored scheduler options over Backend.AI's ScalingGroupOpts defaults.
func schedulerOpts(raw json.RawMessage) model.JSONString {
	opts := map[string]any{
		"allowed_session_types":    []string{"interactive", "batch"},
		"pending_timeout":          0.0,
		"config":                   map[string]any{},
		"agent_selection_strategy": "dispersed",
		"roundrobin":               false,
	}
	var stored map[string]any
	if json.Unmarshal(raw, &stored) == nil {
		for k, v := range stored {
			if v != nil {
				opts[k] = v
			}
		}
	}
	return model.JSON(opts)
}

func scalingGroupModel(sg *dbsqlc.ScalingGroup) *model.ScalingGroup {
	return &model.ScalingGroup{
		Name: str(sg.Name), Description: sg.Description, IsActive: ptr(sg.IsActive), IsPublic: ptr(sg.IsPublic),
		CreatedAt: timep(sg.CreatedAt), WsproxyAddr: sg.WsproxyAddr, WsproxyAPIToken: sg.WsproxyApiToken,
		Driver: str(sg.Driver), DriverOpts: jsonOrEmpty(sg.DriverOpts), Scheduler: str(sg.Scheduler),
		SchedulerOpts: schedulerOpts(sg.SchedulerOpts), UseHostNetwork: ptr(sg.UseHostNetwork),
	}
}
