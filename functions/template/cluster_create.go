package template

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/functions/session"
	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
)

type clusterTemplateCreateInput struct {
	Body templateCreateBody
}

// ClusterTemplateCreateOutput is the answer of POST /template/cluster.
type ClusterTemplateCreateOutput struct {
	Body TemplateCreated
}

func registerClusterCreate(s *functions.Server) {
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "create-cluster-template", Method: http.MethodPost, Path: "/template/cluster", Tag: tag,
		Summary: "Store a cluster template",
		Description: "Stores the cluster template of payload (JSON or YAML: api_version, kind, mode, metadata.name, " +
			"spec.nodes of {role, session_template, replicas}, one role \"main\" with one replica) for the owner in " +
			"the project group of domain.",
		Role: functions.User, Frozen: functions.ReadAllowed, Params: true, Errors: []int{403},
		Aliases: scopeAliases,
	}), func(ctx context.Context, in *clusterTemplateCreateInput) (*ClusterTemplateCreateOutput, error) {
		sc, err := session.ResolveScope(ctx, s, in.Body.OwnerAccessKey, in.Body.Domain, in.Body.Group)
		if err != nil {
			return nil, err
		}
		t, raw, err := clusterPayload(in.Body.Payload)
		if err != nil {
			return nil, err
		}
		id := uuid.New()
		name := t.Name
		if err := db.Q.TemplateInsert(ctx, s.Deps().Pool, &dbsqlc.TemplateInsertParams{
			ID: id, Now: s.Deps().Clock(), DomainName: sc.Domain, GroupID: &sc.GroupID, UserUuid: sc.UserUUID,
			Type: dbsqlc.TemplateTypeCLUSTER, Name: &name, Template: raw,
		}); err != nil {
			return nil, functions.FromDB(err, "task template")
		}
		return &ClusterTemplateCreateOutput{Body: TemplateCreated{ID: hexID(id), User: hexID(sc.UserUUID)}}, nil
	})
}

// clusterPayload checks a cluster template payload (one document) and encodes it for storing.
func clusterPayload(payload string) (*ClusterTemplate, []byte, error) {
	docs, err := decodePayload(payload)
	if err != nil {
		return nil, nil, err
	}
	if len(docs) != 1 {
		return nil, nil, errPayload("must hold one cluster template")
	}
	t, err := checkCluster(docs[0])
	if err != nil {
		return nil, nil, err
	}
	if len([]rune(t.Name)) > 128 {
		return nil, nil, functions.ErrInvalidAPIParams("Invalid template.", map[string]string{"payload.metadata.name": "at most 128 characters"})
	}
	raw, err := encodeJSON(t.Doc, "template")
	if err != nil {
		return nil, nil, err
	}
	return t, raw, nil
}
