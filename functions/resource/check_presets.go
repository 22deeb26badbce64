package resource

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
	"github.com/hangar-run/hangar/internal/slots"
)

// groupVisibilityKey is the shared configuration switch that reveals the project figures.
const groupVisibilityKey = "config/api/resources/group_resource_visibility"

type resourceCheckPresetsInput struct {
	Body struct {
		ScalingGroup *string `json:"scaling_group,omitempty" nullable:"true" doc:"Look only at this scaling group (it must be one the caller may use); all allowed ones when absent or null." example:"default"`
		Group        string  `json:"group,omitempty" default:"default" doc:"Project (name) whose limits apply; the caller must be a member." example:"default"`
	} `required:"false"`
}

// CheckPresetsScalingGroup are the figures of one scaling group in check-presets.
type CheckPresetsScalingGroup struct {
	Using     map[string]string `json:"using" doc:"What the caller's sessions in this scaling group occupy."`
	Remaining map[string]string `json:"remaining" doc:"Free room on its live agents, capped by keypair_remaining."`
}

// CheckedPreset is a preset with whether it fits now.
type CheckedPreset struct {
	Name          string            `json:"name" doc:"Preset name." example:"cpu01-small"`
	ResourceSlots map[string]string `json:"resource_slots" doc:"Slot name → amount for every known slot."`
	SharedMemory  *string           `json:"shared_memory" nullable:"true" doc:"Shared memory in bytes; null when not set." example:"1073741824"`
	Allocatable   bool              `json:"allocatable" doc:"Whether a single live agent has room for the preset and the caller's remaining limits allow it."`
}

// CheckPresetsOutput is the answer of POST /resource/check-presets.
type CheckPresetsOutput struct {
	Body struct {
		KeypairLimits         map[string]string                   `json:"keypair_limits" doc:"Limits of the caller's keypair resource policy (Infinity when unlimited)."`
		KeypairUsing          map[string]string                   `json:"keypair_using" doc:"What the keypair's sessions occupy."`
		KeypairRemaining      map[string]string                   `json:"keypair_remaining" doc:"What the caller may still allocate: the least of the keypair's, the project's and the domain's remaining amounts."`
		GroupLimits           map[string]string                   `json:"group_limits" doc:"Limits of the project; every slot \"NaN\" unless config/api/resources/group_resource_visibility is true."`
		GroupUsing            map[string]string                   `json:"group_using" doc:"What the project's sessions occupy; \"NaN\" unless visible."`
		GroupRemaining        map[string]string                   `json:"group_remaining" doc:"What the project may still allocate; \"NaN\" unless visible."`
		ScalingGroupRemaining map[string]string                   `json:"scaling_group_remaining" doc:"Free room on the live agents of all the scaling groups considered, capped by keypair_remaining."`
		ScalingGroups         map[string]CheckPresetsScalingGroup `json:"scaling_groups" doc:"Scaling group name → its figures."`
		Presets               []CheckedPreset                     `json:"presets" doc:"Every preset, by name, with whether it fits now."`
	}
}

// sgroupFigures are what the caller uses in a scaling group and the room left in it.
type sgroupFigures struct {
	using, remaining slots.Map
}

// agentRoom is the free room of one live agent.
type agentRoom struct {
	scalingGroup string
	free         slots.Map
}

// sumRows turns per-slot sums into a slot map of the known slots (unknown ones dropped,
// missing ones zero).
func sumRows[R any](rows []R, slot func(R) string, amt func(R) slots.Amount, known map[string]string) slots.Map {
	out := slots.ZeroMap(known)
	for _, r := range rows {
		if _, ok := known[slot(r)]; ok {
			out[slot(r)] = out[slot(r)].Add(amt(r))
		}
	}
	return out
}

// truthy reads a shared configuration flag the way Backend.AI's ToBool does.
func truthy(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "t", "yes", "y", "on", "1":
		return true
	}
	return false
}

func registerCheckPresets(s *functions.Server) {
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "check-resource-presets", Method: http.MethodPost, Path: "/resource/check-presets", Tag: tag,
		Summary: "Check which presets fit",
		Description: "Tells the caller what they may still allocate in a project (keypair, project and domain " +
			"limits), the free room of the scaling groups they may use (live, schedulable agents), and whether each " +
			"preset fits on a single agent now. Parameters come from the body or, without one, the query string.",
		Role: functions.User, Frozen: functions.ReadAllowed, Params: true,
		Errors: []int{http.StatusNotFound},
	}), func(ctx context.Context, in *resourceCheckPresetsInput) (*CheckPresetsOutput, error) {
		d := s.Deps()
		id := functions.IdentityFrom(ctx)
		known := d.Shared.ResourceSlots()
		groupName := in.Body.Group
		if groupName == "" {
			groupName = "default"
		}

		// Keypair limits and occupancy.
		policySlots, err := slots.ParseMap(id.KeypairPolicy.TotalResourceSlots)
		if err != nil {
			return nil, fmt.Errorf("keypair resource policy %s: %w", id.KeypairPolicy.Name, err)
		}
		kpLimits := slots.FromPolicy(policySlots, id.KeypairPolicy.DefaultForUnspecified == dbsqlc.DefaultForUnspecifiedUNLIMITED, known)
		kpRows, err := db.Q.ResourceOccupancyByAccessKey(ctx, d.Pool, id.AccessKey)
		if err != nil {
			return nil, functions.FromDB(err, "kernel")
		}
		kpUsing := sumRows(kpRows, func(r *dbsqlc.ResourceOccupancyByAccessKeyRow) string { return r.Slot },
			func(r *dbsqlc.ResourceOccupancyByAccessKeyRow) slots.Amount { return slots.AmountOf(r.Amount) }, known)
		kpRemaining := kpLimits.Minus(kpUsing)

		// Project limits and occupancy; the caller must be a member.
		grp, err := db.Q.ResourceGroupGetForMember(ctx, d.Pool, &dbsqlc.ResourceGroupGetForMemberParams{
			Name: groupName, DomainName: id.Domain(), UserID: id.UserUUID(),
		})
		if err != nil {
			return nil, functions.FromDB(err, "project (user group)")
		}
		grpSlots, err := slots.ParseMap(grp.TotalResourceSlots)
		if err != nil {
			return nil, fmt.Errorf("project %s: %w", groupName, err)
		}
		grpLimits := slots.FromPolicy(grpSlots, true, known)
		grpRows, err := db.Q.ResourceOccupancyByGroup(ctx, d.Pool, grp.ID)
		if err != nil {
			return nil, functions.FromDB(err, "kernel")
		}
		grpUsing := sumRows(grpRows, func(r *dbsqlc.ResourceOccupancyByGroupRow) string { return r.Slot },
			func(r *dbsqlc.ResourceOccupancyByGroupRow) slots.Amount { return slots.AmountOf(r.Amount) }, known)
		grpRemaining := grpLimits.Minus(grpUsing)

		// Domain limits and occupancy.
		domRaw, err := db.Q.ResourceDomainSlots(ctx, d.Pool, id.Domain())
		if err != nil {
			return nil, functions.FromDB(err, "domain")
		}
		domSlots, err := slots.ParseMap(domRaw)
		if err != nil {
			return nil, fmt.Errorf("domain %s: %w", id.Domain(), err)
		}
		domRows, err := db.Q.ResourceOccupancyByDomain(ctx, d.Pool, id.Domain())
		if err != nil {
			return nil, functions.FromDB(err, "kernel")
		}
		domUsing := sumRows(domRows, func(r *dbsqlc.ResourceOccupancyByDomainRow) string { return r.Slot },
			func(r *dbsqlc.ResourceOccupancyByDomainRow) slots.Amount { return slots.AmountOf(r.Amount) }, known)
		domRemaining := slots.FromPolicy(domSlots, true, known).Minus(domUsing)

		for k := range known {
			kpRemaining[k] = slots.Min(kpRemaining[k], grpRemaining[k], domRemaining[k])
		}

		// Scaling groups the caller may use.
		gid := grp.ID
		sgroups, err := allowedScalingGroups(ctx, s, id, &gid, in.Body.ScalingGroup)
		if err != nil {
			return nil, err
		}
		perSgroup := make(map[string]sgroupFigures, len(sgroups))
		for _, name := range sgroups {
			perSgroup[name] = sgroupFigures{using: slots.ZeroMap(known), remaining: slots.ZeroMap(known)}
		}
		useRows, err := db.Q.ResourceOccupancyByUserPerScalingGroup(ctx, d.Pool, &dbsqlc.ResourceOccupancyByUserPerScalingGroupParams{
			UserUuid: id.UserUUID(), ScalingGroups: sgroups,
		})
		if err != nil {
			return nil, functions.FromDB(err, "kernel")
		}
		for _, r := range useRows {
			if sg, ok := perSgroup[r.ScalingGroup]; ok {
				if _, ok := known[r.Slot]; ok {
					sg.using[r.Slot] = sg.using[r.Slot].Add(slots.AmountOf(r.Amount))
				}
			}
		}

		// Free room of the live agents.
		agents, err := agentRooms(ctx, s, sgroups, known)
		if err != nil {
			return nil, err
		}
		total := slots.ZeroMap(known)
		for _, a := range agents {
			total.AddAll(a.free)
			perSgroup[a.scalingGroup].remaining.AddAll(a.free)
		}
		for k := range known {
			total[k] = slots.Min(kpRemaining[k], total[k])
			for _, sg := range perSgroup {
				sg.remaining[k] = slots.Min(kpRemaining[k], sg.remaining[k])
			}
		}

		// Presets.
		presetRows, err := db.Q.ResourcePresetListForCheck(ctx, d.Pool)
		if err != nil {
			return nil, functions.FromDB(err, "resource preset")
		}
		out := &CheckPresetsOutput{}
		out.Body.Presets = make([]CheckedPreset, 0, len(presetRows))
		for _, r := range presetRows {
			sl, err := slots.ParseMap(r.ResourceSlots)
			if err != nil {
				return nil, fmt.Errorf("resource preset %s: %w", r.Name, err)
			}
			want := sl.Normalized(known)
			p := CheckedPreset{Name: r.Name, ResourceSlots: want.Strings()}
			if r.SharedMemory != nil {
				v := strconv.FormatInt(*r.SharedMemory, 10)
				p.SharedMemory = &v
			}
			if kpRemaining.Covers(want) {
				for _, a := range agents {
					if a.free.Covers(want) {
						p.Allocatable = true
						break
					}
				}
			}
			out.Body.Presets = append(out.Body.Presets, p)
		}

		b := &out.Body
		b.KeypairLimits, b.KeypairUsing, b.KeypairRemaining = kpLimits.Strings(), kpUsing.Strings(), kpRemaining.Strings()
		if v, _ := d.Shared.Get(groupVisibilityKey); truthy(v) {
			b.GroupLimits, b.GroupUsing, b.GroupRemaining = grpLimits.Strings(), grpUsing.Strings(), grpRemaining.Strings()
		} else {
			b.GroupLimits, b.GroupUsing, b.GroupRemaining = nanSlots(known), nanSlots(known), nanSlots(known)
		}
		b.ScalingGroupRemaining = total.Strings()
		b.ScalingGroups = make(map[string]CheckPresetsScalingGroup, len(perSgroup))
		for name, sg := range perSgroup {
			b.ScalingGroups[name] = CheckPresetsScalingGroup{Using: sg.using.Strings(), Remaining: sg.remaining.Strings()}
		}
		return out, nil
	})
}

// allowedScalingGroups lists the names of the scaling groups the caller may use in the project,
// or only the requested one, which must be among them.
func allowedScalingGroups(ctx context.Context, s *functions.Server, id *functions.Identity, groupID *uuid.UUID, requested *string) ([]string, error) {
	rows, err := db.Q.ScalingGroupListAllowed(ctx, s.Deps().Pool, &dbsqlc.ScalingGroupListAllowedParams{
		DomainName: id.Domain(), GroupID: groupID, AccessKey: id.AccessKey,
	})
	if err != nil {
		return nil, functions.FromDB(err, "scaling group")
	}
	names := make([]string, 0, len(rows))
	for _, r := range rows {
		names = append(names, r.Name)
	}
	if requested == nil {
		return names, nil
	}
	for _, n := range names {
		if n == *requested {
			return []string{n}, nil
		}
	}
	return nil, functions.ErrInvalidAPIParams("Unknown scaling group", map[string]string{"scaling_group": *requested})
}

// agentRooms returns the free room (capacity − occupied, known slots, missing ones zero) of
// every live, schedulable agent in the scaling groups.
func agentRooms(ctx context.Context, s *functions.Server, sgroups []string, known map[string]string) ([]agentRoom, error) {
	rows, err := db.Q.AgentSlotListAliveInScalingGroups(ctx, s.Deps().Pool, sgroups)
	if err != nil {
		return nil, functions.FromDB(err, "agent")
	}
	var (
		out  []agentRoom
		last string
	)
	for _, r := range rows {
		if len(out) == 0 || r.AgentID != last {
			out = append(out, agentRoom{scalingGroup: r.ScalingGroup, free: slots.ZeroMap(known)})
			last = r.AgentID
		}
		if _, ok := known[r.Slot]; ok {
			out[len(out)-1].free[r.Slot] = slots.AmountOf(r.Capacity.Sub(r.Occupied))
		}
	}
	return out, nil
}
