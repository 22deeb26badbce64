package image

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/config"
	"github.com/hangar-run/hangar/internal/registry"
	"github.com/hangar-run/hangar/jobs"
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
			"registry configured under config/docker/registry.",
		Role: functions.Superadmin, Frozen: functions.WriteOp, Status: http.StatusAccepted,
	}), func(ctx context.Context, in *input) (*RescanOutput, error) {
		d := s.Deps()
		regs := config.ContainerRegistries(d.Shared.GetPrefix(config.ContainerRegistriesKey))
		if in.Body.Registry == "" {
			if len(regs) == 0 {
				return nil, functions.ErrInvalidAPIParams("No container registry is configured.", nil)
			}
		} else if _, _, err := registry.ParseTarget(in.Body.Registry, regs); err != nil {
			return nil, functions.ErrInvalidAPIParams(err.Error(), map[string]string{"registry": in.Body.Registry})
		}
		task, err := jobs.NewImageRescanTask(jobs.ImageRescanPayload{Target: in.Body.Registry})
		if err != nil {
			return nil, err
		}
		out := &RescanOutput{}
		out.Body.TaskID = jobs.ImageRescanTaskID(in.Body.Registry)
		_, err = d.Enqueuer.Enqueue(ctx, task)
		switch {
		case err == nil:
			out.Body.Queued = true
		case jobs.IsDuplicate(err):
		default:
			return nil, functions.ErrServiceUnavailable("Cannot queue the rescan: " + err.Error())
		}
		return out, nil
	})
}
