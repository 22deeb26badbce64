// Package manager is the Backend.AI-compatible /manager API: the status of this API process
// (GET is public), freezing and unfreezing the manager, and the announcement every client
// shows. The status and the announcement live in the shared configuration (etcd keys
// manager/status and manager/announcement), so every API process sees the same values.
//
// A write is visible to the process that made it before the write's response is sent: the
// handler waits (up to a short deadline) until the live view of the shared configuration has
// applied it, so a request that follows a freeze is refused with 503 server-frozen.
package manager

import (
	"github.com/hangar-run/hangar/functions"
)

// tag groups these operations in the OpenAPI document.
const tag = "manager"

// Register adds the area's operations to s.
func Register(s *functions.Server) {
	registerGetStatus(s)
	registerUpdateStatus(s)
	registerGetAnnouncement(s)
	registerUpdateAnnouncement(s)
}
