package resource

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/usage"
)

// RecalculateUsageOutput is the answer of POST /resource/recalculate-usage.
type RecalculateUsageOutput struct {
	Body *usage.Result
}

func registerRecalculateUsage(s *functions.Server) {
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "recalculate-usage", Method: http.MethodPost, Path: "/resource/recalculate-usage", Tag: tag,
		Summary: "Recalculate resource usage",
		Description: "Recomputes every agent's occupied slots from the kernels holding reservations and corrects " +
			"the drift it finds (the periodic usage:recalculate job does the same). Answers the corrections made " +
			"(agent, slot, recorded and expected amounts) and reservations on slots an agent does not report. " +
			"Per-keypair, user and project usage is computed from the kernels on every use and cannot drift.",
		Role: functions.Superadmin, Params: true,
	}), func(ctx context.Context, _ *struct{}) (*RecalculateUsageOutput, error) {
		res, err := usage.Recalculate(ctx, s.Deps().Pool)
		if err != nil {
			return nil, err
		}
		res.Log(s.Deps().Log())
		return &RecalculateUsageOutput{Body: res}, nil
	})
}
