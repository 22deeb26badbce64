package manager

import (
	"context"
	"net/http"
	"regexp"
	"strconv"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/db"
)

// ManagerNode describes one manager API process in GET /manager/status.
type ManagerNode struct {
	ID               string  `json:"id" doc:"Id of the API process (manager.id in manager.toml)." example:"i-hangar"`
	NumProc          int     `json:"num_proc" doc:"Worker processes serving the API in this node; always 1 in Hangar." example:"1"`
	ServiceAddr      string  `json:"service_addr" doc:"Address the API listens on." example:"0.0.0.0:8081"`
	HeartbeatTimeout float64 `json:"heartbeat_timeout" doc:"Seconds without a heartbeat after which an agent is considered lost." example:"40"`
	SSLEnabled       bool    `json:"ssl_enabled" doc:"Whether the API serves TLS itself; always false in Hangar."`
	ActiveSessions   int64   `json:"active_sessions" doc:"Sessions whose main kernel occupies agent resources."`
	Status           string  `json:"status" doc:"Manager status: running, frozen (or the legacy terminated, preparing)." example:"running"`
	Version          string  `json:"version" doc:"Backend.AI Manager release whose API Hangar follows." example:"24.03.2"`
	APIVersion       []any   `json:"api_version" doc:"API version of the request as [major, \"yyyymmdd\"]: the X-BackendAI-Version header, or the latest version when it is absent." example:"[8,\"20240315\"]"`
}

// ManagerStatusOutput is the answer of GET /manager/status.
type ManagerStatusOutput struct {
	Body struct {
		Nodes          []ManagerNode `json:"nodes" doc:"The API process that answered (Backend.AI lists its own process here)."`
		Status         string        `json:"status" doc:"Manager status: running or frozen (legacy: terminated, preparing)." example:"running"`
		ActiveSessions int64         `json:"active_sessions" doc:"Sessions whose main kernel occupies agent resources (any status but PENDING, TERMINATED and CANCELLED)."`
	}
}

type managerStatusInput struct {
	Version string `header:"X-BackendAI-Version" required:"false" doc:"Backend.AI API version of the client, e.g. v8.20240315; echoed in api_version."`
}

// versionPattern matches an API version such as v8.20240315.
var versionPattern = regexp.MustCompile(`^v(\d+)\.(\d{8})$`) //nolint:gochecknoglobals // read-only

// apiVersion returns the [major, "yyyymmdd"] pair of the request's API version.
func apiVersion(header string) []any {
	m := versionPattern.FindStringSubmatch(header)
	if m == nil {
		m = versionPattern.FindStringSubmatch(functions.APIVersion)
	}
	major, _ := strconv.Atoi(m[1])
	return []any{major, m[2]}
}

func registerGetStatus(s *functions.Server) {
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "get-manager-status", Method: http.MethodGet, Path: "/manager/status", Tag: tag,
		Summary: "Manager status",
		Description: "Reports whether the manager is running or frozen, how many sessions are active, and " +
			"describes the API process that answered. Needs no authentication; a request body is ignored.",
		Role: functions.Public,
	}), func(ctx context.Context, in *managerStatusInput) (*ManagerStatusOutput, error) {
		d := s.Deps()
		active, err := db.Q.KernelCountActiveMain(ctx, d.Pool)
		if err != nil {
			return nil, functions.FromDB(err, "kernel")
		}
		status := d.Shared.ManagerStatus()
		out := &ManagerStatusOutput{}
		out.Body.Status = status
		out.Body.ActiveSessions = active
		out.Body.Nodes = []ManagerNode{{
			ID:               d.ManagerID,
			NumProc:          1,
			ServiceAddr:      d.ServiceAddr,
			HeartbeatTimeout: d.HeartbeatTimeout,
			SSLEnabled:       false,
			ActiveSessions:   active,
			Status:           status,
			Version:          functions.ManagerVersion,
			APIVersion:       apiVersion(in.Version),
		}}
		return out, nil
	})
}
