package adminpolicy

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/adminsvc"
)

// ResourcePresetCreate is the body of create-resource-preset.
type ResourcePresetCreate struct {
	Name          string            `json:"name" minLength:"1" maxLength:"256" pattern:"^[a-zA-Z0-9]([a-zA-Z0-9._-]*[a-zA-Z0-9])?$" doc:"Preset name, unique: ASCII letters, digits, '.', '_' and '-', starting and ending with a letter or digit." example:"cpu02-medium"`
	ResourceSlots map[string]string `json:"resource_slots" minProperties:"1" doc:"Resources the preset requests: known slot → amount, with at least cpu and mem. Memory-like (bytes) slots take binary sizes such as \"8g\"." example:"{\"cpu\":\"4\",\"mem\":\"8g\"}"`
	SharedMemory  *string           `json:"shared_memory,omitempty" nullable:"true" doc:"Shared memory as a binary size (\"1g\", \"512m\", bytes); null or absent leaves it to the image or the default." example:"1g"`
}

func registerCreateResourcePreset(s *functions.Server) {
	type input struct {
		Body ResourcePresetCreate
	}
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "create-resource-preset", Method: http.MethodPost, Path: "/admin/resource-presets",
		Summary:     "Create a resource preset",
		Description: "Creates a resource preset. Slots must be known; amounts are normalized (binary sizes become bytes, counts keep three decimals) and must be finite.",
		Tag:         tag, Role: functions.Superadmin, Frozen: functions.ServiceGuarded, Status: http.StatusCreated,
		Errors: []int{http.StatusServiceUnavailable},
	}), func(ctx context.Context, in *input) (*resourcePresetOutput, error) {
		b := in.Body
		row, err := s.AdminService().CreateResourcePreset(ctx, svcCaller(ctx), adminsvc.ResourcePresetCreate{
			Name: b.Name, ResourceSlots: b.ResourceSlots, SharedMemory: b.SharedMemory,
		})
		if err != nil {
			return nil, functions.FromService(err)
		}
		p, err := resourcePresetFromRow(row)
		if err != nil {
			return nil, err
		}
		return &resourcePresetOutput{Body: p}, nil
	})
}
