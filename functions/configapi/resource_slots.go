package configapi

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hangar-run/hangar/functions"
)

// ConfigResourceSlotsOutput is the answer of GET /config/resource-slots.
type ConfigResourceSlotsOutput struct {
	Body map[string]string `doc:"Known slot name → slot type (count, bytes or unique)." example:"{\"cpu\":\"count\",\"mem\":\"bytes\",\"cuda.shares\":\"count\"}"`
}

func registerGetResourceSlots(s *functions.Server) {
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "get-resource-slots", Method: http.MethodGet, Path: "/config/resource-slots", Tag: tag,
		Summary: "Known resource slots",
		Description: "The resource slots sessions may request: the intrinsic cpu (count) and mem (bytes), and " +
			"those under config/resource_slots in the shared configuration. Needs no authentication.",
		Role: functions.Public,
	}), func(context.Context, *struct{}) (*ConfigResourceSlotsOutput, error) {
		return &ConfigResourceSlotsOutput{Body: s.Deps().Shared.ResourceSlots()}, nil
	})
}
