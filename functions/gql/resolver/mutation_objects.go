package resolver

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/google/uuid"

	"github.com/hangar-run/hangar/functions/gql/model"
	"github.com/hangar-run/hangar/internal/adminsvc"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
)

// Input decoding and payload helpers of the resource policy, preset, scaling group and image
// mutations; the rules themselves are the administration service's.

// errNoSuchImageObject is Backend.AI's ObjectNotFound text for an image id that names no
// image.
var errNoSuchImageObject = errors.New("No such object. (image)")

// msgNoSuchAlias is dealias_image's answer for an unknown alias.
const msgNoSuchAlias = "No such alias"

// msgNotImplemented is the answer of preload_image and unload_image.
const msgNotImplemented = "Not implemented."

// objPayload maps the outcome of a service call to a payload's ok and msg (mutationResult),
// or to a GraphQL error.
func objPayload(field, payload string, err error) (*bool, *string, error) {
	ok, msg, gqlErr := mutationResult(field, payload, err)
	if gqlErr != nil {
		return nil, nil, gqlErr
	}
	return &ok, &msg, nil
}

// objFailed is a failed payload's ok and msg.
func objFailed(msg string) (*bool, *string) { return okPayload(false, msg) }

// int32Input reads an optional Int input that must fit a 32-bit column.
func int32Input(key string, v *int) (*int32, error) {
	if v == nil {
		return nil, nil
	}
	if *v < math.MinInt32 || *v > math.MaxInt32 {
		return nil, errInvalidParams(fmt.Sprintf("%s: %d is out of range", key, *v))
	}
	i := int32(*v)
	return &i, nil
}

// schedulerOptsInput reads a scheduler_opts JSONString; null stays nil (not given).
func schedulerOptsInput(j model.JSONString) (*adminsvc.SchedulerOpts, error) {
	if j == nil {
		return nil, nil
	}
	opts, err := adminsvc.DecodeSchedulerOpts(j)
	if err != nil {
		return nil, err
	}
	return &opts, nil
}

// imageIDInput reads forget_image_by_id's image_id: a raw UUID or a Relay global id of an
// ImageNode.
func imageIDInput(s string) (uuid.UUID, error) {
	if id, err := uuid.Parse(s); err == nil {
		return id, nil
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		raw, err := enc.DecodeString(s)
		if err != nil {
			continue
		}
		typ, rest, ok := strings.Cut(string(raw), ":")
		if !ok || typ != "ImageNode" {
			break
		}
		if id, err := uuid.Parse(rest); err == nil {
			return id, nil
		}
		break
	}
	return uuid.Nil, errNoSuchImageObject
}

// imageNodeOf is the ImageNode of an image row (a forgotten image: no agents, no aliases).
func (r *mutationsResolver) imageNodeOf(ctx context.Context, img *dbsqlc.Image) *model.ImageNode {
	m := r.queries().imageModel(ctx, &imageRow{Image: *img})
	return &model.ImageNode{
		ID: globalID("ImageNode", img.ID.String()), Name: m.Name, HumanizedName: m.HumanizedName,
		Tag: m.Tag, Registry: m.Registry, Architecture: m.Architecture, IsLocal: m.IsLocal,
		Digest: m.Digest, Labels: m.Labels, SizeBytes: m.SizeBytes, ResourceLimits: m.ResourceLimits,
		SupportedAccelerators: m.SupportedAccelerators,
	}
}

// forgetResult maps the outcome of a forget to ok, msg and the image: an unknown image is the
// GraphQL error unknown, a customized image of someone else {false, "Forbidden"}.
func (r *mutationsResolver) forgetResult(ctx context.Context, field, payload string, img *dbsqlc.Image, err error, unknown error) (*bool, *string, *model.ImageNode, error) {
	if e := serviceErr(err, adminsvc.KindNotFound); e != nil && e.Object == "image" {
		return nil, nil, nil, unknown
	}
	if e := serviceErr(err, adminsvc.KindForbidden); e != nil && e.Object == "image" {
		ok, msg := objFailed(e.Msg)
		return ok, msg, nil, nil
	}
	if err != nil {
		ok, msg, gqlErr := objPayload(field, payload, err)
		return ok, msg, nil, gqlErr
	}
	ok, msg := okPayload(true, "")
	return ok, msg, r.imageNodeOf(ctx, img), nil
}

// sgAssociated maps the outcome of an association to ok and msg: an association that existed
// already is an integrity error, as the unique key makes it upstream.
func sgAssociated(field, payload string, added bool, err error) (*bool, *string, error) {
	if err == nil && !added {
		ok, msg := objFailed("integrity error: the scaling group association already exists")
		return ok, msg, nil
	}
	return objPayload(field, payload, err)
}

// msgImageNotFound is modify_image's answer for an unknown image.
const msgImageNotFound = "Image not found"

// imageModifyInput reads modify_image's props: labels and resource_limits are lists of
// key/value and key/min/max objects (entries without a key are dropped), and the lists
// replace the stored values.
func imageModifyInput(p model.ModifyImageInput) adminsvc.ImageModify {
	in := adminsvc.ImageModify{
		Name: p.Name, Registry: p.Registry, Image: p.Image, Tag: p.Tag, Architecture: p.Architecture,
		IsLocal: p.IsLocal, Type: p.Type, Digest: p.Digest, Accelerators: strList(p.SupportedAccelerators),
	}
	if p.SizeBytes != nil {
		n := int64(*p.SizeBytes)
		in.SizeBytes = &n
	}
	if p.Labels != nil {
		in.Labels = map[string]string{}
		for _, kv := range p.Labels {
			if kv == nil || kv.Key == nil {
				continue
			}
			v := ""
			if kv.Value != nil {
				v = *kv.Value
			}
			in.Labels[*kv.Key] = v
		}
	}
	if p.ResourceLimits != nil {
		in.ResourceLimits = map[string]adminsvc.ResourceLimit{}
		for _, l := range p.ResourceLimits {
			if l == nil || l.Key == nil {
				continue
			}
			in.ResourceLimits[*l.Key] = adminsvc.ResourceLimit{Min: l.Min, Max: l.Max}
		}
	}
	return in
}
