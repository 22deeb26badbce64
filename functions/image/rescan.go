package image

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/config"
)

// RescanOutput is the answer of POST /admin/images/rescan.
type RescanOutput struct {
	Body struct {
		TaskID string `json:"task_id" doc:"Id of the image:rescan task." example:"image:rescan:cr.backend.ai"`
		Queued bool   `json:"queued" doc:"False when the same rescan was already queued or running (then task_id is that task's)."`
	}
}

func registerRescan(s *functions.Server) {
	type input struct {
		Body struct {
			Registry string `json:"registry,omitempty" doc:"What to rescan: a registry name, REGISTRY/REPOSITORY[:TAG] for one repository or tag, or empty for every registry." example:"cr.backend.ai"`
		} `required:"false"`
	}
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "rescan-images", Method: http.MethodPost, Path: "/admin/images/rescan", Tag: tag,
		Summary: "Rescan container registries",
		Description: "Queues an image:rescan task for a worker: it reads the registry (or repository or tag) " +
			"over the Docker Registry HTTP API v2, upserts the images that carry Backend.AI's labels and marks " +
			"the images no longer found as missing. Answers 202 with the task id; the target must name a " +
			"registry configured under config/docker/registry. Superadmins and domain admins.",
		Role: functions.Admin, Frozen: functions.ServiceGuarded, Status: http.StatusAccepted,
		Errors: []int{http.StatusServiceUnavailable},
	}), func(ctx context.Context, in *input) (*RescanOutput, error) {
		regs := config.ContainerRegistries(s.Deps().Shared.GetPrefix(config.ContainerRegistriesKey))
		r, err := s.AdminService().RescanImages(ctx, svcCaller(ctx), in.Body.Registry, regs)
		if err != nil {
			return nil, functions.FromService(err)
		}
		out := &RescanOutput{}
		out.Body.TaskID, out.Body.Queued = r.TaskID, r.Queued
		return out, nil
	})
}
