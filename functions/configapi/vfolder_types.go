package configapi

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hangar-run/hangar/functions"
)

// ConfigVFolderTypesOutput is the answer of GET /config/vfolder-types.
type ConfigVFolderTypesOutput struct {
	Body []string `doc:"Enabled vfolder types, sorted." example:"[\"group\",\"user\"]"`
}

func registerGetVFolderTypes(s *functions.Server) {
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "get-vfolder-types", Method: http.MethodGet, Path: "/config/vfolder-types", Tag: tag,
		Summary: "Enabled vfolder types",
		Description: "The vfolder ownership types that may be created (the names under volumes/_types in the " +
			"shared configuration; user when none is set). Needs no authentication.",
		Role: functions.Public,
	}), func(context.Context, *struct{}) (*ConfigVFolderTypesOutput, error) {
		return &ConfigVFolderTypesOutput{Body: s.Deps().Shared.VFolderTypes()}, nil
	})
}
