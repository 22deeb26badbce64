package adminpolicy

import (
	"math"
	"strconv"

	"github.com/shopspring/decimal"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
	"github.com/hangar-run/hangar/internal/slots"
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

// presetSlots validates the resource slots of a preset: known slots, finite amounts, and at
// least cpu and mem.
func presetSlots(in map[string]string, types map[string]string) ([]byte, error) {
	norm, raw, err := normalizeSlots("resource_slots", in, types)
	if err != nil {
		return nil, err
	}
	for _, slot := range []string{"cpu", "mem"} {
		if _, ok := norm[slot]; !ok {
			msg := "resource_slots: a preset must give " + slot
			return nil, functions.ErrInvalidAPIParams(msg, map[string]string{"resource_slots." + slot: "required"})
		}
	}
	for slot, v := range norm {
		if v == slots.Infinity {
			msg := "resource_slots: a preset cannot request an unlimited amount of " + slot
			return nil, functions.ErrInvalidAPIParams(msg, map[string]string{"resource_slots." + slot: "must be finite"})
		}
	}
	return raw, nil
}

// presetSharedMemory parses the shared_memory of a preset: a finite binary size that fits
// in 64 bits.
func presetSharedMemory(s string) (int64, error) {
	d, err := slots.ParseBinarySize(s)
	if err == nil && d.GreaterThan(decimal.NewFromInt(math.MaxInt64)) {
		err = strconv.ErrRange
	}
	if err != nil {
		msg := "shared_memory: " + err.Error()
		return 0, functions.ErrInvalidAPIParams(msg, map[string]string{"shared_memory": err.Error()})
	}
	return d.IntPart(), nil
}
