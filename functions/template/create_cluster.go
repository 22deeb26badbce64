package template

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"reflect"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/functions/session"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
)

// CreateClusterParams are the parameters of POST /session/_/create-cluster.
type CreateClusterParams struct {
	ClientSessionToken *string `json:"clientSessionToken,omitempty" doc:"Session name: 4-64 characters of letters, digits, '_', '.', '-'." example:"my-cluster"`
	TemplateID         *string `json:"template_id,omitempty" nullable:"true" doc:"The cluster template." example:"0d3c2c8e-8a3f-4b6a-9b1b-4f0b8c2d9e11"`
	Type               *string `json:"type,omitempty" enum:"interactive,batch,inference" doc:"Session type (the main node's template's by default)."`
	Group              *string `json:"group,omitempty" doc:"Project name or id (the template's by default)."`
	Domain             *string `json:"domain,omitempty" doc:"Domain name (the template's by default)."`
	ScalingGroup       *string `json:"scaling_group,omitempty" nullable:"true" doc:"Scaling group (the main node's template's by default)."`
	Tag                *string `json:"tag,omitempty" nullable:"true" doc:"Free-form tag."`
	EnqueueOnly        *bool   `json:"enqueueOnly,omitempty" doc:"Answer at once with status PENDING instead of waiting for the start."`
	MaxWaitSeconds     *int    `json:"maxWaitSeconds,omitempty" minimum:"0" doc:"How long to wait for the start (0: as long as the request lasts)."`
	OwnerAccessKey     *string `json:"owner_access_key,omitempty" nullable:"true" doc:"Create on behalf of this access key (admins only)."`
}

var clusterAliases = functions.Aliases{ //nolint:gochecknoglobals // read-only
	{"template_id", "templateId"},
	{"type", "sessionType"},
	{"group", "groupName", "group_name"},
	{"domain", "domainName", "domain_name"},
	{"scaling_group", "scalingGroup"},
}

type createClusterInput struct {
	Body CreateClusterParams
}

// CreateClusterOutput is the answer of POST /session/_/create-cluster.
type CreateClusterOutput struct {
	Body struct {
		KernelID        string           `json:"kernelId" doc:"The session's id (Backend.AI names it after the main kernel)."`
		SessionID       string           `json:"sessionId" doc:"The session's id."`
		Status          string           `json:"status" doc:"PENDING when only enqueued, RUNNING once started, TIMEOUT when the wait ran out, or the status it ended in."`
		ServicePorts    []map[string]any `json:"servicePorts" doc:"Service ports of the main kernel."`
		TemplateCreated bool             `json:"created" doc:"Always true."`
	}
}

func registerCreateCluster(s *functions.Server) {
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "create-session-cluster", Method: http.MethodPost, Path: "/session/_/create-cluster",
		Tag: sessionTag, Status: http.StatusCreated,
		Summary: "Create a cluster session from a cluster template",
		Description: "Creates one session whose kernels are the nodes of a cluster template (replicas of each " +
			"role, cluster mode from the template), each node described by a session template the caller sees. " +
			"The nodes' templates must agree on image, architecture and resources (one kernel spec per session); " +
			"the main node's template gives the rest, the cluster template's environ is added to its environment.",
		Role: functions.User, Frozen: functions.WriteOp, Params: true, Errors: []int{403, 404, 412},
		Aliases: clusterAliases,
	}), func(ctx context.Context, in *createClusterInput) (*CreateClusterOutput, error) {
		return createCluster(ctx, s, &in.Body)
	})
}

func createCluster(ctx context.Context, s *functions.Server, b *CreateClusterParams) (*CreateClusterOutput, error) {
	if b.ClientSessionToken == nil {
		return nil, functions.ErrInvalidAPIParams("Missing required parameters.", map[string]string{"clientSessionToken": "is required"})
	}
	if b.TemplateID == nil || *b.TemplateID == "" {
		return nil, functions.ErrInvalidAPIParams("Missing required parameters.", map[string]string{"template_id": "is required"})
	}
	row, err := load(ctx, s, *b.TemplateID, dbsqlc.TemplateTypeCLUSTER, false)
	if err != nil {
		return nil, err
	}
	doc, err := decodeStored(row.Template)
	if err != nil {
		return nil, err
	}
	ct, err := checkCluster(doc)
	if err != nil {
		return nil, err
	}
	var main *TaskTemplate
	var mainRow *dbsqlc.TemplateGetRow
	size := 0
	nodes := make([]*TaskTemplate, len(ct.Nodes))
	for i, n := range ct.Nodes {
		trow, err := load(ctx, s, n.SessionTemplate.String(), dbsqlc.TemplateTypeTASK, false)
		if err != nil {
			return nil, functions.ErrObjectNotFound("task template",
				fmt.Sprintf("The session template %s of node %q does not exist.", n.SessionTemplate, n.Role))
		}
		tdoc, err := decodeStored(trow.Template)
		if err != nil {
			return nil, err
		}
		if nodes[i], err = checkTask(tdoc, fmt.Sprintf("spec.nodes.%d.session_template.", i)); err != nil {
			return nil, err
		}
		if n.Role == mainRole {
			main, mainRow = nodes[i], trow
		}
		size += n.Replicas
	}
	for i, t := range nodes {
		if !sameKernel(main, t) {
			return nil, functions.ErrInvalidAPIParams("The nodes of a cluster must use the same image, architecture and resources.",
				map[string]string{fmt.Sprintf("spec.nodes.%d.session_template", i): ct.Nodes[i].SessionTemplate.String()})
		}
	}
	p := fromTemplate(main, mainRow)
	if row.GroupName != nil {
		g := *row.GroupName
		p.Group = &g
	}
	domain := row.DomainName
	p.Domain = &domain
	environ := maps.Clone(main.Environ)
	if environ == nil {
		environ = map[string]string{}
	}
	maps.Copy(environ, ct.Environ)
	if len(environ) > 0 {
		p.Config.Environ = environ
	}
	if len(ct.Mounts) > 0 {
		for name := range ct.Mounts {
			p.Config.Mounts = append(p.Config.Mounts, name)
		}
	}
	noReuse := false
	p.Name, p.Type, p.Group, p.Domain, p.Tag = b.ClientSessionToken, pick(b.Type, p.Type), pick(b.Group, p.Group), pick(b.Domain, p.Domain), pick(b.Tag, p.Tag)
	p.Config.ScalingGroup = pick(b.ScalingGroup, p.Config.ScalingGroup)
	p.ClusterSize, p.ClusterMode = &size, &ct.Mode
	p.EnqueueOnly, p.MaxWaitSeconds, p.OwnerAccessKey, p.ReuseIfExists = b.EnqueueOnly, b.MaxWaitSeconds, b.OwnerAccessKey, &noReuse
	res, err := session.Create(ctx, s, p)
	if err != nil {
		return nil, err
	}
	out := &CreateClusterOutput{}
	out.Body.KernelID, out.Body.SessionID, out.Body.Status, out.Body.TemplateCreated =
		res.Body.SessionID, res.Body.SessionID, res.Body.Status, true
	out.Body.ServicePorts = []map[string]any{}
	if res.Body.ServicePorts != nil {
		out.Body.ServicePorts = *res.Body.ServicePorts
	}
	return out, nil
}

// sameKernel reports whether two session templates describe the same kernel.
func sameKernel(a, b *TaskTemplate) bool {
	if a.Image != b.Image || !reflect.DeepEqual(a.Architecture, b.Architecture) {
		return false
	}
	ra, _ := json.Marshal(a.Resources)
	rb, _ := json.Marshal(b.Resources)
	return string(ra) == string(rb)
}
