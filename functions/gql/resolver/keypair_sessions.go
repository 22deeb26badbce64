package resolver

import (
	"context"
	"strings"

	"github.com/hangar-run/hangar/functions/gql/model"
)

// keypairComputeSessions is KeyPair.compute_sessions: the keypair's sessions, newest first,
// narrowed by a comma-separated list of status names. The keypair itself is already in the
// caller's scope, so its sessions are too. hide leaves out the agents of the sessions.
func keypairComputeSessions(ctx context.Context, obj *model.KeyPair, status *string, hide bool) ([]*model.ComputeSession, error) {
	if obj.AccessKey == nil {
		return nil, nil
	}
	statuses, err := statusNames(status, sessionStatuses)
	if err != nil {
		return nil, err
	}
	rows, err := loaders(ctx).KeypairSessions.Load(ctx, keypairSessions{AccessKey: *obj.AccessKey, Statuses: strings.Join(statuses, ",")})
	if err != nil {
		return nil, err
	}
	out := make([]*model.ComputeSession, len(rows))
	for i, s := range rows {
		out[i] = sessionModel(s, hide)
	}
	return out, nil
}
