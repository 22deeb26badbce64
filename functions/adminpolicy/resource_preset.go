package adminpolicy

import (
	"strconv"

	"github.com/hangar-run/hangar/internal/db/dbsqlc"
)

// ResourcePreset is a named resource request users can pick when they start a session.
type ResourcePreset struct {
	Name          string            `json:"name" doc:"Preset name." example:"cpu01-small"`
	ResourceSlots map[string]string `json:"resource_slots" doc:"Resources the preset requests: slot → decimal amount (bytes for memory)." example:"{\"cpu\":\"1\",\"mem\":\"1073741824\"}"`
	SharedMemory  *string           `json:"shared_memory" nullable:"true" doc:"Shared memory in bytes, as a decimal string; null leaves it to the image or the default." example:"67108864"`
}

// ResourcePresetList is a page of resource presets.
type ResourcePresetList struct {
	Items      []ResourcePreset `json:"items" doc:"The presets of this page, by name."`
	TotalCount int64            `json:"total_count" doc:"Number of presets in all pages."`
}

type resourcePresetOutput struct {
	Body ResourcePreset
}

func resourcePresetFromRow(r *dbsqlc.ResourcePreset) (ResourcePreset, error) {
	rs, err := decodeSlotsNonNil(r.ResourceSlots)
	if err != nil {
		return ResourcePreset{}, err
	}
	p := ResourcePreset{Name: r.Name, ResourceSlots: rs}
	if r.SharedMemory != nil {
		v := strconv.FormatInt(*r.SharedMemory, 10)
		p.SharedMemory = &v
	}
	return p, nil
}
