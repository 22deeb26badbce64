package session

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/hangar-run/hangar/functions"
)

type taskLogsInput struct {
	Body struct {
		TaskID string `json:"taskId" doc:"The batch task's kernel id. Aliases: task_id, session_name, sessionName." example:"3f1c2b9e-1d7a-4a8e-9d5c-2f6b8e0a1c3d"`
	}
}

func registerTaskLogs(s *functions.Server) {
	for _, method := range []string{http.MethodGet, http.MethodHead} {
		id := "get-task-logs"
		if method == http.MethodHead {
			id = "head-task-logs"
		}
		huma.Register(s.API(), functions.Op(functions.OpSpec{
			ID: id, Method: method, Path: "/session/_/logs", Tag: tag,
			Summary: "Batch task log",
			Description: "Backend.AI serves a batch task's log from the caller's `.logs` virtual folder. Hangar has " +
				"no virtual folders yet, so the folder never exists: the answer is 404 object-not-found naming it " +
				"(`data.vfolder_name`).",
			Role: functions.User, Frozen: functions.ReadAllowed, Params: true, Errors: []int{404},
			Aliases: functions.Aliases{{"taskId", "task_id", "session_name", "sessionName"}},
		}), func(_ context.Context, in *taskLogsInput) (*struct{}, error) {
			if _, err := uuid.Parse(in.Body.TaskID); err != nil {
				return nil, functions.ErrInvalidAPIParams("taskId is not a UUID.", map[string]string{"taskId": "invalid UUID"})
			}
			p := functions.ErrObjectNotFound("vfolder", "")
			p.Data = map[string]string{"vfolder_name": ".logs"}
			return nil, p
		})
	}
}
