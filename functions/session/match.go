package session

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hangar-run/hangar/functions"
)

type matchInput struct {
	Body struct {
		ID string `json:"id" minLength:"1" doc:"Session id or exact name." example:"my-session"`
	}
}

// SessionMatch is one session a reference matched.
type SessionMatch struct {
	ID     string `json:"id" doc:"Session id."`
	Name   string `json:"name" doc:"Session name."`
	Status string `json:"status" doc:"Session status."`
}

// MatchOutput is the answer of GET /session/_/match.
type MatchOutput struct {
	Body struct {
		Matches []SessionMatch `json:"matches" doc:"The caller's live sessions the reference matches."`
	}
}

func registerMatch(s *functions.Server) {
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "match-sessions", Method: http.MethodGet, Path: "/session/_/match", Tag: tag,
		Summary:     "Match sessions by id or name",
		Description: "The caller's live sessions whose id or exact name is the given reference.",
		Role:        functions.User, Frozen: functions.ReadAllowed, Params: true,
	}), func(ctx context.Context, in *matchInput) (*MatchOutput, error) {
		id := functions.IdentityFrom(ctx)
		rows, err := matchSessions(ctx, s, id.AccessKey, in.Body.ID, false)
		if err != nil {
			return nil, err
		}
		out := &MatchOutput{}
		out.Body.Matches = make([]SessionMatch, 0, len(rows))
		for _, r := range rows {
			out.Body.Matches = append(out.Body.Matches, SessionMatch{ID: r.ID.String(), Name: r.Name, Status: r.Status})
		}
		return out, nil
	})
}
