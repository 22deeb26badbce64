package resolver

import (
	"context"
	"encoding/json"
	"sort"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/google/uuid"

	"github.com/hangar-run/hangar/functions/gql/model"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
	"github.com/hangar-run/hangar/internal/registry"
)

// Image rows carry the agents that can run them: the ALIVE agents of the image's
// architecture (agents run any image of their architecture; nothing is pulled ahead).
const imageSelect = `i.*, ARRAY(SELECT ag.id FROM agents ag
	WHERE ag.status = 'ALIVE' AND ag.architecture = i.architecture ORDER BY ag.id)::text[]`

// customizedOwnerLabel marks an image committed from a session: "user:<uuid>" of its owner.
const customizedOwnerLabel = "ai.backend.customized-image.owner"

type imageRow struct {
	dbsqlc.Image
	Agents []string
}

// imageQuery is the scoped base of the image fields: a non-superadmin sees only the images
// of its domain's allowed registries.
func imageQuery(ctx context.Context) *listQuery {
	id := caller(ctx)
	q := &listQuery{Select: imageSelect, From: "images i", DefaultOrder: "i.name, i.architecture", Tiebreak: "i.id"}
	if !id.IsSuperadmin() {
		q.where("i.registry IN (SELECT unnest(allowed_docker_registries) FROM domains WHERE name = ?)", id.Domain())
	}
	return q
}

// argumentIsExplicitNull reports whether the current field was given arg as an explicit null
// (a null literal or a variable set to null), as opposed to leaving it out.
func argumentIsExplicitNull(ctx context.Context, arg string) bool {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || fc.Field.Field == nil || !graphql.HasOperationContext(ctx) {
		return false
	}
	v, ok := fc.Field.ArgumentMap(graphql.GetOperationContext(ctx).Variables)[arg]
	return ok && v == nil
}

func (r *queriesResolver) images(ctx context.Context, isInstalled, isOperation *bool) ([]*model.Image, error) {
	id := caller(ctx)
	q := imageQuery(ctx)
	// Customized images are their owner's only, whatever the role.
	q.where("(i.labels ->> '"+customizedOwnerLabel+"' IS NULL OR i.labels ->> '"+customizedOwnerLabel+"' = ?)",
		"user:"+id.User.Uuid.String())
	// Operational images are left out unless is_operation is an explicit null (Backend.AI's
	// resolver defaults the argument to false, so leaving it out hides them too).
	if !argumentIsExplicitNull(ctx, "is_operation") {
		q.where("NOT ('operation' = ANY(string_to_array(COALESCE(i.labels ->> 'ai.backend.features', ''), ' ')))")
	}
	if isInstalled != nil {
		q.where("EXISTS (SELECT 1 FROM agents ag WHERE ag.status = 'ALIVE' AND ag.architecture = i.architecture)")
	}
	rows, err := runAll[imageRow](ctx, r.Deps.Pool, q, 0)
	if err != nil {
		return nil, err
	}
	if err := prefetchImages(ctx, rows, rootSelection(ctx, "Image")); err != nil {
		return nil, err
	}
	out := make([]*model.Image, len(rows))
	for i, row := range rows {
		out[i] = r.imageModel(ctx, row)
	}
	return out, nil
}

func (r *queriesResolver) image(ctx context.Context, id, reference, architecture *string) (*model.Image, error) {
	q := imageQuery(ctx)
	switch {
	case id != nil && *id != "":
		u, err := uuid.Parse(*id)
		if err != nil {
			return nil, errNoSuchImage
		}
		q.where("i.id = ?", u)
	case reference != nil && *reference != "":
		arch := "x86_64"
		if architecture != nil && *architecture != "" {
			arch = registry.NormalizeArch(*architecture)
		}
		// The reference is a canonical name or an alias of one.
		q.where(`(i.name = ? OR i.name IN (SELECT i2.name FROM image_aliases a JOIN images i2 ON i2.id = a.image WHERE a.alias = ?))`,
			*reference, *reference)
		q.where("i.architecture = ?", arch)
	default:
		return nil, errInvalidParams("reference/architecture and id can't be omitted at the same time!")
	}
	rows, err := runAll[imageRow](ctx, r.Deps.Pool, q, 1)
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, errNoSuchImage
	}
	return r.imageModel(ctx, rows[0]), nil
}

// customizedImages are the caller's customized images, as ImageNodes with global ids.
func (r *queriesResolver) customizedImages(ctx context.Context) ([]*model.ImageNode, error) {
	q := imageQuery(ctx)
	q.where("i.labels ->> '"+customizedOwnerLabel+"' = ?", "user:"+caller(ctx).User.Uuid.String())
	rows, err := runAll[imageRow](ctx, r.Deps.Pool, q, 0)
	if err != nil {
		return nil, err
	}
	out := make([]*model.ImageNode, len(rows))
	for i, row := range rows {
		m := r.imageModel(ctx, row)
		out[i] = &model.ImageNode{
			ID: globalID("ImageNode", row.ID.String()), Name: m.Name, HumanizedName: m.HumanizedName,
			Tag: m.Tag, Registry: m.Registry, Architecture: m.Architecture, IsLocal: m.IsLocal,
			Digest: m.Digest, Labels: m.Labels, SizeBytes: m.SizeBytes, ResourceLimits: m.ResourceLimits,
			SupportedAccelerators: m.SupportedAccelerators,
		}
	}
	return out, nil
}

// imageAliases is Image.aliases, batched per request.
func imageAliases(ctx context.Context, obj *model.Image) ([]*string, error) {
	if obj.ID == nil {
		return nil, nil
	}
	aliases, err := loaders(ctx).Aliases.Load(ctx, *obj.ID)
	if err != nil {
		return nil, err
	}
	return strs(aliases), nil
}

// imageModel is the Image of a row: name and humanized_name are the repository path,
// digest and hash the config digest, resource_limits the per-slot minimum and maximum
// (strings as in the labels; cpu "1" and mem "1g" when unset).
func (r *queriesResolver) imageModel(ctx context.Context, row *imageRow) *model.Image {
	im := &row.Image
	digest := strings.TrimSpace(im.ConfigDigest)
	var labels map[string]string
	_ = json.Unmarshal(im.Labels, &labels)
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	kvs := make([]*model.KVPair, len(keys))
	for i, k := range keys {
		kvs[i] = &model.KVPair{Key: str(k), Value: str(labels[k])}
	}
	accels := []*string{}
	if im.Accelerators != nil {
		for a := range strings.SplitSeq(*im.Accelerators, ",") {
			if a = strings.TrimSpace(a); a != "" {
				accels = append(accels, str(a))
			}
		}
	}
	m := &model.Image{
		ID: uuidp(im.ID), Name: str(im.Image), HumanizedName: str(im.Image), Tag: str(im.Tag),
		Registry: str(im.Registry), Architecture: str(im.Architecture), IsLocal: ptr(im.IsLocal),
		Digest: str(digest), Hash: str(digest), Labels: kvs, SizeBytes: ptr(im.SizeBytes),
		ResourceLimits: resourceLimits(im.Resources), SupportedAccelerators: accels,
		Installed: ptr(len(row.Agents) > 0), InstalledAgents: strs(row.Agents),
	}
	if r.Deps.HideAgents && !caller(ctx).IsSuperadmin() {
		m.InstalledAgents = nil
	}
	return m
}

// resourceLimits lists the slot limits of an image's resources column ({slot: {"min",
// "max"}}), by slot name, with Backend.AI's defaults for cpu and mem.
func resourceLimits(raw json.RawMessage) []*model.ResourceLimit {
	var res map[string]struct {
		Min any `json:"min"`
		Max any `json:"max"`
	}
	_ = json.Unmarshal(raw, &res)
	limits := map[string]*model.ResourceLimit{
		"cpu": {Key: str("cpu"), Min: str("1")},
		"mem": {Key: str("mem"), Min: str("1g")},
	}
	text := func(v any) *string {
		switch v := v.(type) {
		case string:
			return str(v)
		case float64:
			b, _ := json.Marshal(v)
			return str(string(b))
		}
		return nil
	}
	for slot, l := range res {
		lim := &model.ResourceLimit{Key: str(slot), Min: text(l.Min), Max: text(l.Max)}
		if lim.Min == nil && limits[slot] != nil {
			lim.Min = limits[slot].Min
		}
		limits[slot] = lim
	}
	names := make([]string, 0, len(limits))
	for n := range limits {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]*model.ResourceLimit, len(names))
	for i, n := range names {
		out[i] = limits[n]
	}
	return out
}
