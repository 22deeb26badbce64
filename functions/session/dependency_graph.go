package session

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
)

type dependencyGraphInput struct {
	SessionName string `path:"session_name" doc:"Session id or name." example:"my-session"`
}

// DependencyNode is a session in a dependency graph with the sessions it depends on.
type DependencyNode struct {
	SessionID     string           `json:"session_id" format:"uuid"`
	SessionName   string           `json:"session_name"`
	Status        string           `json:"status" doc:"Status of the session's main kernel." example:"RUNNING"`
	StatusChanged string           `json:"status_changed" doc:"When it entered that status (Python's str(datetime))." example:"2024-03-15 12:34:56.123456+00:00"`
	DependsOn     []DependencyNode `json:"depends_on" doc:"The sessions this one waits for, each with its own dependencies."`
}

// DependencyGraphOutput is the answer of GET /session/{session_name}/dependency-graph.
type DependencyGraphOutput struct {
	Body DependencyNode
}

func registerDependencyGraph(s *functions.Server) {
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "get-session-dependency-graph", Method: http.MethodGet, Path: "/session/{session_name}/dependency-graph", Tag: tag,
		Summary: "Session dependency tree",
		Description: "The caller's live session with the sessions it depends on (given as `dependencies` at " +
			"creation), recursively: a session starts only once all of these finished successfully.",
		Role: functions.User, Frozen: functions.ReadAllowed, Errors: []int{404},
	}), func(ctx context.Context, in *dependencyGraphInput) (*DependencyGraphOutput, error) {
		id := functions.IdentityFrom(ctx)
		m, err := findSession(ctx, s, id.AccessKey, in.SessionName, false)
		if err != nil {
			return nil, err
		}
		rows, err := db.Q.SessionDependencyClosure(ctx, s.Deps().Pool, m.ID)
		if err != nil {
			return nil, functions.FromDB(err, "session")
		}
		byID := make(map[uuid.UUID]*dbsqlc.SessionDependencyClosureRow, len(rows))
		for _, r := range rows {
			byID[r.ID] = r
		}
		root, ok := byID[m.ID]
		if !ok {
			return nil, sessionNotFound(in.SessionName)
		}
		return &DependencyGraphOutput{Body: dependencyTree(root, byID, map[uuid.UUID]bool{})}, nil
	})
}

// dependencyTree expands r with its dependencies from byID; a session already on the path
// (a cycle, which creation cannot make) is not expanded again.
func dependencyTree(r *dbsqlc.SessionDependencyClosureRow, byID map[uuid.UUID]*dbsqlc.SessionDependencyClosureRow, path map[uuid.UUID]bool) DependencyNode {
	n := DependencyNode{
		SessionID: r.ID.String(), SessionName: r.Name, Status: r.Status,
		StatusChanged: r.StatusChanged.UTC().Format(pyTime), DependsOn: []DependencyNode{},
	}
	path[r.ID] = true
	defer delete(path, r.ID)
	for _, dep := range r.DependsOn {
		if d, ok := byID[dep]; ok && !path[dep] {
			n.DependsOn = append(n.DependsOn, dependencyTree(d, byID, path))
		}
	}
	return n
}
