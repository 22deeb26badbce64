// Package api wires every API area into one functions.Server. The API binary, the OpenAPI
// generator and the end-to-end tests all build the server here, so they cannot drift apart.
package api

import (
	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/functions/admin"
	"github.com/hangar-run/hangar/functions/adminpolicy"
	"github.com/hangar-run/hangar/functions/authapi"
	"github.com/hangar-run/hangar/functions/configapi"
	"github.com/hangar-run/hangar/functions/eventstream"
	"github.com/hangar-run/hangar/functions/gql"
	"github.com/hangar-run/hangar/functions/image"
	"github.com/hangar-run/hangar/functions/logs"
	"github.com/hangar-run/hangar/functions/manager"
	"github.com/hangar-run/hangar/functions/resource"
	"github.com/hangar-run/hangar/functions/scalinggroup"
	"github.com/hangar-run/hangar/functions/session"
	"github.com/hangar-run/hangar/functions/template"
	"github.com/hangar-run/hangar/functions/userconfig"
)

// New builds the server with every operation registered.
func New(deps *functions.Deps) *functions.Server {
	s := functions.NewServer(deps)
	for _, register := range areas {
		register(s)
	}
	s.Finalize()
	return s
}

// areas registers each API area, in the order they appear in the OpenAPI document's tags.
var areas = []func(*functions.Server){ //nolint:gochecknoglobals
	admin.Register,
	adminpolicy.Register,
	gql.Register,
	authapi.Register,
	manager.Register,
	configapi.Register,
	resource.Register,
	scalinggroup.Register,
	image.Register,
	session.Register,
	template.Register,
	userconfig.Register,
	eventstream.Register,
	logs.Register,
}
