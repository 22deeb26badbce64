package resolver

import (
	"context"
	"strings"

	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
)

// sessionsPerKeypair bounds KeyPair.compute_sessions: the newest sessions of a keypair, at
// most 100, so a keypair list cannot ask for unbounded rows (the complexity limit counts them).
const sessionsPerKeypair = 100

// keypairSessions keys KeyPair.compute_sessions: an access key and the status argument
// (comma-separated names, "" for every status).
type keypairSessions struct {
	AccessKey string
	Statuses  string
}

// fetchKeypairSessions answers KeyPair.compute_sessions: one query per distinct status
// argument in the batch, whatever the number of keypairs.
func fetchKeypairSessions(ctx context.Context, pool db.DBTX, keys []keypairSessions) (map[keypairSessions][]*dbsqlc.Session, error) {
	byStatus := map[string][]string{}
	out := make(map[keypairSessions][]*dbsqlc.Session, len(keys))
	for _, k := range keys {
		byStatus[k.Statuses] = append(byStatus[k.Statuses], k.AccessKey)
		out[k] = []*dbsqlc.Session{}
	}
	for st, aks := range byStatus {
		statuses := []string{}
		if st != "" {
			statuses = strings.Split(st, ",")
		}
		rows, err := db.Q.GqlSessionsOfAccessKeys(ctx, pool, &dbsqlc.GqlSessionsOfAccessKeysParams{
			AccessKeys: aks, Statuses: statuses, PerKey: sessionsPerKeypair,
		})
		if err != nil {
			return nil, db.Translate(err)
		}
		for _, s := range rows {
			k := keypairSessions{AccessKey: s.AccessKey, Statuses: st}
			out[k] = append(out[k], s)
		}
	}
	return out, nil
}
