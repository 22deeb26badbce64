// Package session is the Backend.AI-compatible /session API: creating compute sessions (they
// are queued PENDING and started by the workers), reading them, destroying them, matching and
// renaming them, and the operations the agent of a session's main kernel answers (kernel.go):
// running code, completions, logs, interrupts, restarts and files.
//
// Every handler that takes a session reference resolves it with one lookup (lookup.go): an id or
// an exact name, scoped to the owner's access key, dead sessions excluded unless the operation
// allows them.
package session

import (
	"context"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/events"
)

// tag groups these operations in the OpenAPI document.
const tag = "session"

// Register adds the area's operations to s.
func Register(s *functions.Server) {
	registerCreate(s)
	registerMatch(s)
	registerGetInfo(s)
	registerDestroy(s)
	registerRename(s)
	registerExecute(s)
	registerComplete(s)
	registerLogs(s)
	registerInterrupt(s)
	registerRestart(s)
	registerUpload(s)
	registerListFiles(s)
	registerDownload(s)
	registerDownloadSingle(s)
	registerStreamExecute(s)
	registerStatusHistory(s)
	registerDependencyGraph(s)
	registerAbusingReport(s)
	registerTaskLogs(s)
}

// publish sends lifecycle events on the deployment's channel; failures are logged only, since the
// state they describe is already committed.
func publish(ctx context.Context, s *functions.Server, evs ...events.Event) {
	d := s.Deps()
	prefix := d.RedisPrefix
	if d.Enqueuer != nil {
		prefix = d.Enqueuer.Prefix()
	}
	if err := events.NewPublisher(d.Redis, prefix).Publish(ctx, evs...); err != nil {
		d.Log().Warn("publish session events", "err", err)
	}
}
