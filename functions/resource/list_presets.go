package resource

import (
	"context"
	"fmt"
	"net/http"
	"strconv"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/slots"
)

// ListedPreset is a named set of resource slots users pick when they create a session.
type ListedPreset struct {
	Name          string            `json:"name" doc:"Preset name." example:"cpu01-small"`
	SharedMemory  *string           `json:"shared_memory" nullable:"true" doc:"Shared memory in bytes, as a decimal string; null when not set." example:"1073741824"`
	ResourceSlots map[string]string `json:"resource_slots" doc:"Slot name → amount for every known slot (missing ones are \"0\")." example:"{\"cpu\":\"1\",\"mem\":\"1073741824\"}"`
}

// ListPresetsOutput is the answer of GET /resource/presets.
type ListPresetsOutput struct {
	Body struct {
		Presets []ListedPreset `json:"presets" doc:"Every resource preset, by name."`
	}
}

func registerListPresets(s *functions.Server) {
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "list-resource-presets", Method: http.MethodGet, Path: "/resource/presets", Tag: tag,
		Summary:     "List resource presets",
		Description: "Every resource preset, with its slots limited to the known resource slots (missing ones \"0\").",
		Role:        functions.User, Params: true,
	}), func(ctx context.Context, _ *struct{}) (*ListPresetsOutput, error) {
		d := s.Deps()
		known := d.Shared.ResourceSlots()
		rows, err := db.Q.ResourcePresetListForCheck(ctx, d.Pool)
		if err != nil {
			return nil, functions.FromDB(err, "resource preset")
		}
		out := &ListPresetsOutput{}
		out.Body.Presets = make([]ListedPreset, 0, len(rows))
		for _, r := range rows {
			sl, err := slots.ParseMap(r.ResourceSlots)
			if err != nil {
				return nil, fmt.Errorf("resource preset %s: %w", r.Name, err)
			}
			p := ListedPreset{Name: r.Name, ResourceSlots: sl.Normalized(known).Strings()}
			if r.SharedMemory != nil && *r.SharedMemory != 0 {
				v := strconv.FormatInt(*r.SharedMemory, 10)
				p.SharedMemory = &v
			}
			out.Body.Presets = append(out.Body.Presets, p)
		}
		return out, nil
	})
}
