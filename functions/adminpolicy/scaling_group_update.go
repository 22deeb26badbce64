package adminpolicy

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/adminsvc"
)

// ScalingGroupUpdate is the body of update-scaling-group: only the fields given change.
type ScalingGroupUpdate struct {
	Description     Optional[string]    `json:"description,omitempty" maxLength:"512" doc:"Free-form description; null clears it."`
	IsActive        *bool               `json:"is_active,omitempty" doc:"Whether sessions may be scheduled in the group."`
	IsPublic        *bool               `json:"is_public,omitempty" doc:"Whether user sessions may use the group."`
	WsproxyAddr     Optional[string]    `json:"wsproxy_addr,omitempty" maxLength:"1024" doc:"Address of the group's app proxy; null clears it."`
	WsproxyAPIToken Optional[string]    `json:"wsproxy_api_token,omitempty" maxLength:"128" doc:"Token the manager presents to the app proxy; null clears it."`
	Driver          *string             `json:"driver,omitempty" minLength:"1" maxLength:"64" doc:"Agent provisioning driver."`
	DriverOpts      map[string]any      `json:"driver_opts,omitempty" doc:"Replaces the options of the driver."`
	Scheduler       *string             `json:"scheduler,omitempty" enum:"fifo,lifo,drf,mof" doc:"Queueing algorithm."`
	UseHostNetwork  *bool               `json:"use_host_network,omitempty" doc:"Whether containers use the host network."`
	SchedulerOpts   *SchedulerOptsInput `json:"scheduler_opts,omitempty" doc:"Replaces the scheduler options as a whole; absent fields take their defaults."`
}

func registerUpdateScalingGroup(s *functions.Server) {
	type input struct {
		ScalingGroupParam
		Body ScalingGroupUpdate
	}
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "update-scaling-group", Method: http.MethodPatch, Path: "/admin/scaling-groups/{name}",
		Summary:     "Update a scaling group",
		Description: "Changes the fields given and leaves the others. driver_opts and scheduler_opts are replaced as a whole.",
		Tag:         tag, Role: functions.Superadmin, Frozen: functions.ServiceGuarded,
		Errors: []int{http.StatusNotFound, http.StatusServiceUnavailable},
	}), func(ctx context.Context, in *input) (*scalingGroupOutput, error) {
		b := in.Body
		row, err := s.AdminService().ModifyScalingGroup(ctx, svcCaller(ctx), in.Name, adminsvc.ScalingGroupModify{
			SetDescription:     b.Description.Set,
			Description:        b.Description.ptr(),
			IsActive:           b.IsActive,
			IsPublic:           b.IsPublic,
			SetWsproxyAddr:     b.WsproxyAddr.Set,
			WsproxyAddr:        b.WsproxyAddr.ptr(),
			SetWsproxyAPIToken: b.WsproxyAPIToken.Set,
			WsproxyAPIToken:    b.WsproxyAPIToken.ptr(),
			Driver:             b.Driver,
			DriverOpts:         b.DriverOpts,
			Scheduler:          b.Scheduler,
			UseHostNetwork:     b.UseHostNetwork,
			SchedulerOpts:      b.SchedulerOpts.service(),
		})
		if err != nil {
			return nil, functions.FromService(err)
		}
		g, err := scalingGroupFromRow(row)
		if err != nil {
			return nil, err
		}
		return &scalingGroupOutput{Body: g}, nil
	})
}
