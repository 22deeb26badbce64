// Package image is the administration REST API for container images: list the images
// found by registry rescans, queue a rescan for a worker, and manage image aliases. Queuing a
// rescan is for superadmins and domain admins, the rest for superadmins; the rules of the
// writes live in the administration service (internal/adminsvc), shared with GraphQL.
//
// The rescan itself runs in a worker (the image:rescan task, jobs/image): POST
// /admin/images/rescan checks the target against the registries configured under
// config/docker/registry and answers 202 with the task's id. `hangar image rescan` runs the
// same scan in-process.
package image

import (
	"github.com/hangar-run/hangar/functions"
)

// tag groups these operations in the OpenAPI document.
const tag = "image"

// Register adds the area's operations to s.
func Register(s *functions.Server) {
	registerListImages(s)
	registerRescan(s)
	registerSetAlias(s)
	registerDeleteAlias(s)
}
