package resolver

import (
	"context"
	"sort"
	"strings"

	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
)

// agentKernelsKey asks for the kernels of one agent whose status is in Statuses (a sorted,
// comma-joined list of KernelStatus names).
type agentKernelsKey struct {
	Agent    string
	Statuses string
}

// agentKernelsFor is the key of Agent.compute_containers(status) on agent: the statuses of
// the comma-separated argument, or those holding a container when it is absent.
func agentKernelsFor(agent string, status *string) (agentKernelsKey, error) {
	names, err := statusNames(status, kernelStatuses)
	if err != nil {
		return agentKernelsKey{}, err
	}
	if names == nil {
		names = strings.Split(strings.NewReplacer("'", "", " ", "").Replace(agentLiveKernelStatuses), ",")
	}
	sort.Strings(names)
	return agentKernelsKey{Agent: agent, Statuses: strings.Join(names, ",")}, nil
}

// fetchAgentKernels answers Agent.compute_containers: one query per distinct status set in
// the batch (a document asks for one set), whatever the number of agents.
func fetchAgentKernels(ctx context.Context, pool db.DBTX, keys []agentKernelsKey) (map[agentKernelsKey][]*dbsqlc.Kernel, error) {
	bySet := map[string][]string{}
	out := make(map[agentKernelsKey][]*dbsqlc.Kernel, len(keys))
	for _, k := range keys {
		bySet[k.Statuses] = append(bySet[k.Statuses], k.Agent)
		out[k] = []*dbsqlc.Kernel{}
	}
	for set, agents := range bySet {
		rows, err := db.Q.GqlKernelsByAgents(ctx, pool, &dbsqlc.GqlKernelsByAgentsParams{
			AgentIds: agents, Statuses: strings.Split(set, ","),
		})
		if err != nil {
			return nil, db.Translate(err)
		}
		for _, r := range rows {
			if r.Agent == nil {
				continue
			}
			key := agentKernelsKey{Agent: *r.Agent, Statuses: set}
			out[key] = append(out[key], r)
		}
	}
	return out, nil
}
