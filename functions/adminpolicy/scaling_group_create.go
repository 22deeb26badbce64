package adminpolicy

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/adminsvc"
)

// ScalingGroupCreate is the body of create-scaling-group.
type ScalingGroupCreate struct {
	Name            string              `json:"name" minLength:"1" maxLength:"64" pattern:"^[a-zA-Z0-9]([a-zA-Z0-9._-]*[a-zA-Z0-9])?$" doc:"Scaling group name, unique: ASCII letters, digits, '.', '_' and '-', starting and ending with a letter or digit." example:"gpu"`
	Description     *string             `json:"description,omitempty" nullable:"true" maxLength:"512" doc:"Free-form description."`
	IsActive        *bool               `json:"is_active,omitempty" default:"true" doc:"Whether sessions may be scheduled in the group."`
	IsPublic        *bool               `json:"is_public,omitempty" default:"true" doc:"Whether user sessions may use the group."`
	WsproxyAddr     *string             `json:"wsproxy_addr,omitempty" nullable:"true" maxLength:"1024" doc:"Address of the group's app proxy." example:"http://127.0.0.1:5050"`
	WsproxyAPIToken *string             `json:"wsproxy_api_token,omitempty" nullable:"true" maxLength:"128" doc:"Token the manager presents to the app proxy."`
	Driver          *string             `json:"driver,omitempty" minLength:"1" maxLength:"64" default:"static" doc:"Agent provisioning driver."`
	DriverOpts      map[string]any      `json:"driver_opts,omitempty" doc:"Options of the driver; default {}."`
	Scheduler       *string             `json:"scheduler,omitempty" enum:"fifo,lifo,drf,mof" default:"fifo" doc:"Queueing algorithm."`
	UseHostNetwork  *bool               `json:"use_host_network,omitempty" default:"false" doc:"Whether containers use the host network."`
	SchedulerOpts   *SchedulerOptsInput `json:"scheduler_opts,omitempty" doc:"Options of the scheduler; absent fields take their defaults."`
}

func registerCreateScalingGroup(s *functions.Server) {
	type input struct {
		Body ScalingGroupCreate
	}
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "create-scaling-group", Method: http.MethodPost, Path: "/admin/scaling-groups",
		Summary:     "Create a scaling group",
		Description: "Creates a scaling group. It serves no one until domains, projects or keypairs are associated with it.",
		Tag:         tag, Role: functions.Superadmin, Frozen: functions.ServiceGuarded, Status: http.StatusCreated,
		Errors: []int{http.StatusServiceUnavailable},
	}), func(ctx context.Context, in *input) (*scalingGroupOutput, error) {
		b := in.Body
		row, err := s.AdminService().CreateScalingGroup(ctx, svcCaller(ctx), adminsvc.ScalingGroupCreate{
			Name:            b.Name,
			Description:     b.Description,
			IsActive:        b.IsActive,
			IsPublic:        b.IsPublic,
			WsproxyAddr:     b.WsproxyAddr,
			WsproxyAPIToken: b.WsproxyAPIToken,
			Driver:          b.Driver,
			DriverOpts:      b.DriverOpts,
			Scheduler:       b.Scheduler,
			UseHostNetwork:  b.UseHostNetwork,
			SchedulerOpts:   b.SchedulerOpts.service(),
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
