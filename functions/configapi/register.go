// Package configapi is the Backend.AI-compatible /config API: the known resource slots and
// their display metadata, the enabled vfolder types and the docker registries (all read from
// the live shared configuration), and raw reads and writes of the etcd namespace for
// superadmins (Backend.AI's `admin etcd get|put|delete`).
//
// Raw keys are relative to the namespace (/sorna/<namespace>/). A prefix read returns nested
// objects whose segments are URL-unquoted; a nested object written with /config/set is
// flattened into '/'-separated keys, and a prefix delete removes the key and everything below
// it (whole path segments only).
package configapi

import (
	"github.com/hangar-run/hangar/functions"
)

// tag groups these operations in the OpenAPI document.
const tag = "config"

// Register adds the area's operations to s.
func Register(s *functions.Server) {
	registerGetResourceSlots(s)
	registerGetResourceSlotDetails(s)
	registerGetVFolderTypes(s)
	registerGetDockerRegistries(s)
	registerGetConfig(s)
	registerSetConfig(s)
	registerDeleteConfig(s)
}
