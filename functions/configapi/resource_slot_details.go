package configapi

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/db"
)

// SlotNumberFormat says how clients format amounts of a slot.
type SlotNumberFormat struct {
	Binary      bool `json:"binary" doc:"Whether amounts use binary (1024-based) units."`
	RoundLength int  `json:"round_length" doc:"Decimal places to show."`
}

// ResourceSlotMetadata is how clients present a resource slot.
type ResourceSlotMetadata struct {
	SlotName          string           `json:"slot_name" doc:"Name clients use for the slot." example:"cuda.shares"`
	Description       string           `json:"description" doc:"Description of the device." example:"CUDA-capable GPU (fractional)"`
	HumanReadableName string           `json:"human_readable_name" doc:"Short display name." example:"fGPU"`
	DisplayUnit       string           `json:"display_unit" doc:"Unit shown next to amounts." example:"fGPU"`
	SlotNumberFormat  SlotNumberFormat `json:"number_format" doc:"How amounts are formatted."`
	DisplayIcon       string           `json:"display_icon" doc:"Icon name clients show." example:"gpu1"`
}

// knownSlotMetadata is the display metadata of cpu, mem and the accelerator slots Hangar knows
// about. Accelerator slots are listed only when they are known resource slots.
func knownSlotMetadata() map[string]ResourceSlotMetadata {
	return map[string]ResourceSlotMetadata{
		"cpu": {SlotName: "cpu", Description: "CPU", HumanReadableName: "CPU", DisplayUnit: "Core",
			SlotNumberFormat: SlotNumberFormat{Binary: false, RoundLength: 0}, DisplayIcon: "cpu"},
		"mem": {SlotName: "ram", Description: "Memory", HumanReadableName: "RAM", DisplayUnit: "GiB",
			SlotNumberFormat: SlotNumberFormat{Binary: true, RoundLength: 0}, DisplayIcon: "cpu"},
		"cuda.device": {SlotName: "cuda.device", Description: "CUDA-capable GPU", HumanReadableName: "GPU",
			DisplayUnit: "GPU", SlotNumberFormat: SlotNumberFormat{Binary: false, RoundLength: 0}, DisplayIcon: "gpu1"},
		"cuda.shares": {SlotName: "cuda.shares", Description: "CUDA-capable GPU (fractional)", HumanReadableName: "fGPU",
			DisplayUnit: "fGPU", SlotNumberFormat: SlotNumberFormat{Binary: false, RoundLength: 2}, DisplayIcon: "gpu1"},
		"rocm.device": {SlotName: "rocm.device", Description: "ROCm-capable GPU", HumanReadableName: "GPU",
			DisplayUnit: "GPU", SlotNumberFormat: SlotNumberFormat{Binary: false, RoundLength: 0}, DisplayIcon: "gpu2"},
		"tpu.device": {SlotName: "tpu.device", Description: "TPU device", HumanReadableName: "TPU",
			DisplayUnit: "TPU", SlotNumberFormat: SlotNumberFormat{Binary: false, RoundLength: 0}, DisplayIcon: "tpu"},
	}
}

type configSlotDetailsInput struct {
	Body struct {
		Sgroup *string `json:"sgroup,omitempty" nullable:"true" doc:"Scaling group: list only cpu, mem and the slots its live, schedulable agents have." example:"default"`
	} `required:"false"`
}

// ConfigSlotDetailsOutput is the answer of GET /config/resource-slots/details.
type ConfigSlotDetailsOutput struct {
	Body map[string]ResourceSlotMetadata `doc:"Slot name → display metadata."`
}

func registerGetResourceSlotDetails(s *functions.Server) {
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "get-resource-slot-details", Method: http.MethodGet, Path: "/config/resource-slots/details", Tag: tag,
		Summary: "Display metadata of the resource slots",
		Description: "How clients present each known resource slot (name, unit, number format, icon): cpu, mem and " +
			"the known accelerator slots. With sgroup, accelerators are limited to those the scaling group's live, " +
			"schedulable agents have. Needs no authentication.",
		Role: functions.Public, Params: true,
	}), func(ctx context.Context, in *configSlotDetailsInput) (*ConfigSlotDetailsOutput, error) {
		d := s.Deps()
		known := d.Shared.ResourceSlots()
		out := map[string]ResourceSlotMetadata{}
		for name, meta := range knownSlotMetadata() {
			if _, ok := known[name]; ok {
				out[name] = meta
			}
		}
		if in.Body.Sgroup != nil {
			names, err := db.Q.AgentSlotNamesAlive(ctx, d.Pool, *in.Body.Sgroup)
			if err != nil {
				return nil, functions.FromDB(err, "agent")
			}
			present := map[string]bool{"cpu": true, "mem": true}
			for _, n := range names {
				present[n] = true
			}
			for name := range out {
				if !present[name] {
					delete(out, name)
				}
			}
		}
		return &ConfigSlotDetailsOutput{Body: out}, nil
	})
}
