package session

import (
	"github.com/danielgtaylor/huma/v2"

	"github.com/hangar-run/hangar/functions"
)

// TransformSchema names service_ports and servicePorts apart for SDK generators. (The
// parameter aliases of the request types are documented by the params layer: see
// functions.Aliases.)
func (CreateResult) TransformSchema(_ huma.Registry, s *huma.Schema) *huma.Schema {
	return functions.NameApart(s)
}
