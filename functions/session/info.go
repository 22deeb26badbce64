package session

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
)

type infoInput struct {
	SessionName string `path:"session_name" doc:"Session id or name." example:"my-session"`
}

// InfoOutput is the answer of GET /session/{session_name}.
type InfoOutput struct {
	Body struct {
		DomainName         string          `json:"domainName" doc:"Domain of the session."`
		GroupID            string          `json:"groupId" doc:"Project id."`
		UserID             string          `json:"userId" doc:"Owner's user id."`
		Lang               string          `json:"lang" doc:"Image (legacy name)."`
		Image              string          `json:"image" doc:"Image of the main kernel."`
		Architecture       string          `json:"architecture" doc:"Image architecture."`
		Registry           string          `json:"registry" doc:"Image registry."`
		Tag                string          `json:"tag" doc:"Image tag."`
		ContainerID        string          `json:"containerId" doc:"Main kernel's container id (\"None\" before it starts)."`
		OccupiedSlots      string          `json:"occupiedSlots" doc:"Slots the main kernel occupies, as an opaque string."`
		OccupyingSlots     string          `json:"occupyingSlots" doc:"Slots the session occupies, as an opaque string."`
		RequestedSlots     string          `json:"requestedSlots" doc:"Slots the session requested, as an opaque string."`
		OccupiedShares     string          `json:"occupiedShares" doc:"Legacy; \"{}\"."`
		Environ            string          `json:"environ" doc:"Environment variables, as an opaque string."`
		ResourceOpts       string          `json:"resourceOpts" doc:"Resource options, as an opaque string."`
		Status             string          `json:"status" doc:"Session status." example:"RUNNING"`
		StatusInfo         string          `json:"statusInfo" doc:"Reason of the last status change (\"None\" when unset)."`
		StatusData         json.RawMessage `json:"statusData" doc:"Details of the last status change."`
		Age                int64           `json:"age" doc:"Milliseconds since creation."`
		CreationTime       string          `json:"creationTime" doc:"Creation time."`
		TerminationTime    *string         `json:"terminationTime" doc:"Termination time, or null."`
		NumQueriesExecuted int64           `json:"numQueriesExecuted" doc:"Executed queries."`
		LastStat           json.RawMessage `json:"lastStat" doc:"Last resource statistics, or null."`
		IdleChecks         map[string]any  `json:"idleChecks" doc:"Idle checker reports of a RUNNING session: {checker: {remaining (seconds, -1 once expired, null when not applicable), remaining_time_type (grace_period or expire_after), extra}}."`
	}
}

// pyTime writes t like Python's str(datetime).
const pyTime = "2006-01-02 15:04:05.000000-07:00"

// slotString renders a JSON slot map as a JSON string. Backend.AI returns Python's repr of
// the dict here ("{'cpu': Decimal('1')}"); clients treat it as opaque, so Hangar sends JSON.
func slotString(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return "{}"
	}
	return string(raw)
}

func registerGetInfo(s *functions.Server) {
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "get-session-info", Method: http.MethodGet, Path: "/session/{session_name}", Tag: tag,
		Summary:     "Session information",
		Description: "The caller's own session by id or name (owner_access_key is ignored here, as in Backend.AI).",
		Role:        functions.User, Frozen: functions.ReadAllowed, Errors: []int{404},
	}), func(ctx context.Context, in *infoInput) (*InfoOutput, error) {
		id := functions.IdentityFrom(ctx)
		row, err := findSessionInfo(ctx, s, id.AccessKey, in.SessionName)
		if err != nil {
			return nil, err
		}
		out := &InfoOutput{}
		b := &out.Body
		str := func(p *string) string {
			if p == nil {
				return ""
			}
			return *p
		}
		b.DomainName, b.GroupID, b.UserID = row.DomainName, row.GroupID.String(), row.UserUuid.String()
		b.Image, b.Architecture, b.Registry, b.Tag = str(row.Image), str(row.Architecture), str(row.Registry), str(row.Tag)
		b.Lang = b.Image
		b.ContainerID = "None"
		if row.ContainerID != nil {
			b.ContainerID = *row.ContainerID
		}
		b.OccupiedSlots, b.OccupyingSlots, b.RequestedSlots = slotString(row.OccupiedSlots), slotString(row.OccupyingSlots), slotString(row.RequestedSlots)
		b.OccupiedShares = "{}"
		b.Environ, b.ResourceOpts = slotString(row.SessionEnviron), slotString(row.ResourceOpts)
		b.Status = row.Status
		b.StatusInfo = "None"
		if row.StatusInfo != nil {
			b.StatusInfo = *row.StatusInfo
		}
		b.StatusData = row.StatusData
		if len(b.StatusData) == 0 {
			b.StatusData = json.RawMessage("null")
		}
		b.Age = s.Deps().Clock().Sub(row.CreatedAt).Milliseconds()
		b.CreationTime = row.CreatedAt.UTC().Format(pyTime)
		if row.TerminatedAt != nil {
			t := row.TerminatedAt.UTC().Format(pyTime)
			b.TerminationTime = &t
		}
		b.NumQueriesExecuted = row.NumQueries
		b.LastStat = row.LastStat
		if len(b.LastStat) == 0 {
			b.LastStat = json.RawMessage("null")
		}
		b.IdleChecks = idleChecks(ctx, s, row)
		return out, nil
	})
}

// findSessionInfo resolves ref to exactly one live session of the owner, as findSession does,
// and loads what the info answer needs in the same round trip.
func findSessionInfo(ctx context.Context, s *functions.Server, accessKey, ref string) (*dbsqlc.SessionInfoMatchRow, error) {
	params := &dbsqlc.SessionInfoMatchParams{AccessKey: accessKey, Name: ref}
	u, err := uuid.Parse(ref)
	if err == nil {
		params.ID = &u
	}
	rows, err := db.Q.SessionInfoMatch(ctx, s.Deps().Pool, params)
	if err != nil {
		return nil, functions.FromDB(err, "session")
	}
	if params.ID != nil {
		for _, r := range rows {
			if r.ID == u {
				return r, nil
			}
		}
	}
	return oneMatch(rows, ref, func(r *dbsqlc.SessionInfoMatchRow) map[string]any {
		return sessionMatch(r.ID, r.Name, r.Status, r.CreatedAt)
	})
}
