package adminpolicy

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/adminsvc"
)

// ResourcePresetUpdate is the body of update-resource-preset: only the fields given change.
type ResourcePresetUpdate struct {
	ResourceSlots map[string]string `json:"resource_slots,omitempty" minProperties:"1" doc:"Replaces the requested resources: known slot → amount, with at least cpu and mem."`
	SharedMemory  Optional[string]  `json:"shared_memory,omitempty" doc:"Shared memory as a binary size; null clears it."`
}

func registerUpdateResourcePreset(s *functions.Server) {
	type input struct {
		NameParam
		Body ResourcePresetUpdate
	}
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "update-resource-preset", Method: http.MethodPatch, Path: "/admin/resource-presets/{name}",
		Summary:     "Update a resource preset",
		Description: "Changes the fields given and leaves the others; resource_slots is replaced as a whole.",
		Tag:         tag, Role: functions.Superadmin, Frozen: functions.ServiceGuarded,
		Errors: []int{http.StatusNotFound, http.StatusServiceUnavailable},
	}), func(ctx context.Context, in *input) (*resourcePresetOutput, error) {
		b := in.Body
		row, err := s.AdminService().ModifyResourcePreset(ctx, svcCaller(ctx), in.Name, adminsvc.ResourcePresetModify{
			ResourceSlots:   b.ResourceSlots,
			SetSharedMemory: b.SharedMemory.Set,
			SharedMemory:    b.SharedMemory.ptr(),
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
