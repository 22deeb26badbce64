package adminpolicy

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/hangar-run/hangar/internal/adminsvc"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
)

// SchedulerOpts are a scaling group's scheduler options, with every default filled in.
type SchedulerOpts struct {
	AllowedSessionTypes    []string       `json:"allowed_session_types" enum:"interactive,batch,inference" doc:"Session types the group accepts."`
	PendingTimeout         float64        `json:"pending_timeout" doc:"Seconds a session may stay pending before it is cancelled; 0 means never."`
	Config                 map[string]any `json:"config" doc:"Options of the scheduler itself, such as num_retries_to_skip."`
	AgentSelectionStrategy string         `json:"agent_selection_strategy" enum:"dispersed,concentrated,legacy" doc:"How an agent is picked among those that fit: dispersed spreads sessions, concentrated packs them, legacy follows the old slot-order rule."`
	Roundrobin             bool           `json:"roundrobin" doc:"Pick agents in turn instead of by the selection strategy."`
}

// SchedulerOptsInput are scheduler options as a request gives them; absent fields take their
// defaults (allowed_session_types ["interactive", "batch"], pending_timeout 0, config {},
// agent_selection_strategy "dispersed", roundrobin false).
type SchedulerOptsInput struct {
	AllowedSessionTypes    []string       `json:"allowed_session_types,omitempty" enum:"interactive,batch,inference" uniqueItems:"true" doc:"Session types the group accepts; default [\"interactive\", \"batch\"] (inference must be asked for)."`
	PendingTimeout         *float64       `json:"pending_timeout,omitempty" minimum:"0" doc:"Seconds a session may stay pending before it is cancelled; 0 (default) means never."`
	Config                 map[string]any `json:"config,omitempty" doc:"Options of the scheduler itself, such as num_retries_to_skip; default {}."`
	AgentSelectionStrategy *string        `json:"agent_selection_strategy,omitempty" enum:"dispersed,concentrated,legacy" doc:"How an agent is picked among those that fit; default dispersed."`
	Roundrobin             *bool          `json:"roundrobin,omitempty" doc:"Pick agents in turn instead of by the selection strategy; default false."`
}

// service converts the options to the administration service's form.
func (in *SchedulerOptsInput) service() *adminsvc.SchedulerOpts {
	if in == nil {
		return nil
	}
	return &adminsvc.SchedulerOpts{
		AllowedSessionTypes:    in.AllowedSessionTypes,
		PendingTimeout:         in.PendingTimeout,
		Config:                 in.Config,
		AgentSelectionStrategy: in.AgentSelectionStrategy,
		Roundrobin:             in.Roundrobin,
	}
}

// decodeSchedulerOpts reads stored scheduler options, filling in the defaults for the keys
// missing; unknown keys are ignored.
func decodeSchedulerOpts(raw json.RawMessage) (SchedulerOpts, error) {
	var in SchedulerOptsInput
	if len(raw) > 0 && string(raw) != "null" {
		if err := json.Unmarshal(raw, &in); err != nil {
			return SchedulerOpts{}, fmt.Errorf("decode scheduler_opts: %w", err)
		}
	}
	r := in.service().Resolve()
	return SchedulerOpts(r), nil
}

// ScalingGroup is a pool of agents with its own scheduler.
type ScalingGroup struct {
	Name            string         `json:"name" doc:"Scaling group name." example:"default"`
	Description     *string        `json:"description" nullable:"true" doc:"Free-form description."`
	IsActive        bool           `json:"is_active" doc:"Whether sessions may be scheduled in the group."`
	IsPublic        bool           `json:"is_public" doc:"Whether user sessions may use the group (non-public groups serve system sessions only)."`
	CreatedAt       time.Time      `json:"created_at" doc:"When the group was created."`
	WsproxyAddr     *string        `json:"wsproxy_addr" nullable:"true" doc:"Address of the group's app proxy, if any." example:"http://127.0.0.1:5050"`
	WsproxyAPIToken *string        `json:"wsproxy_api_token" nullable:"true" doc:"Token the manager presents to the app proxy."`
	Driver          string         `json:"driver" doc:"Agent provisioning driver." example:"static"`
	DriverOpts      map[string]any `json:"driver_opts" doc:"Options of the driver."`
	Scheduler       string         `json:"scheduler" doc:"Queueing algorithm: fifo, lifo, drf or mof." example:"fifo"`
	UseHostNetwork  bool           `json:"use_host_network" doc:"Whether containers use the host network."`
	SchedulerOpts   SchedulerOpts  `json:"scheduler_opts" doc:"Options of the scheduler."`
}

// ScalingGroupList is a page of scaling groups.
type ScalingGroupList struct {
	Items      []ScalingGroup `json:"items" doc:"The scaling groups of this page, by name."`
	TotalCount int64          `json:"total_count" doc:"Number of scaling groups in all pages."`
}

type scalingGroupOutput struct {
	Body ScalingGroup
}

func scalingGroupFromRow(r *dbsqlc.ScalingGroup) (ScalingGroup, error) {
	opts, err := decodeSchedulerOpts(r.SchedulerOpts)
	if err != nil {
		return ScalingGroup{}, err
	}
	return ScalingGroup{
		Name:            r.Name,
		Description:     r.Description,
		IsActive:        r.IsActive,
		IsPublic:        r.IsPublic,
		CreatedAt:       r.CreatedAt,
		WsproxyAddr:     r.WsproxyAddr,
		WsproxyAPIToken: r.WsproxyApiToken,
		Driver:          r.Driver,
		DriverOpts:      decodeObject(r.DriverOpts),
		Scheduler:       r.Scheduler,
		UseHostNetwork:  r.UseHostNetwork,
		SchedulerOpts:   opts,
	}, nil
}
