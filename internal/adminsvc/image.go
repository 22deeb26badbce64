package adminsvc

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/hangar-run/hangar/internal/config"
	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
	"github.com/hangar-run/hangar/internal/names"
	"github.com/hangar-run/hangar/internal/registry"
	"github.com/hangar-run/hangar/jobs"
)

// CustomizedImageOwnerLabel is the image label naming the user a customized image belongs
// to, as "user:<uuid>"; only that user (and superadmins) may forget the image.
const CustomizedImageOwnerLabel = "ai.backend.customized-image.owner"

// MsgNoSuchImage is Backend.AI's text for an unknown image.
const MsgNoSuchImage = "No such environment image."

const (
	objImage      = "image"
	objImageAlias = "image alias"
)

// requireAnyAdmin allows superadmins and domain admins.
func requireAnyAdmin(c Caller) error {
	if !c.IsSuperadmin() && !c.IsDomainAdmin() {
		return forbidden("Only superadmins and domain admins may do this.")
	}
	return nil
}

// AliasImage makes alias name the image target of architecture arch (the only one when
// arch is empty; amd64 and arm64 are understood); an existing alias is re-pointed. It
// returns the architecture chosen. An unknown target is KindNotFound (object "image"), an
// architecture the image lacks KindInvalid. Superadmins only.
func (s *Service) AliasImage(ctx context.Context, c Caller, alias, target, arch string) (string, error) {
	if err := s.begin(ctx); err != nil {
		return "", err
	}
	if err := requireSuperadmin(c); err != nil {
		return "", err
	}
	if err := invalidParam("alias", names.Alias(alias)); err != nil {
		return "", err
	}
	var chosen string
	err := db.InTx(ctx, s.d.Pool, func(tx pgx.Tx) error {
		rows, err := db.Q.ImageArchitectures(ctx, tx, target)
		if err != nil {
			return fromDB(err, objImage)
		}
		if len(rows) == 0 {
			return notFound(objImage, target)
		}
		archs := make([]string, len(rows))
		for i, r := range rows {
			archs[i] = r.Architecture
		}
		if chosen, err = registry.ChooseArchitecture(target, archs, arch); err != nil {
			return invalid("architecture", err.Error(), map[string]any{"architectures": archs})
		}
		for _, r := range rows {
			if r.Architecture == chosen {
				if _, err := db.Q.ImageAliasSet(ctx, tx, &dbsqlc.ImageAliasSetParams{Alias: alias, Image: r.ID}); err != nil {
					return fromDB(err, objImageAlias)
				}
			}
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	return chosen, nil
}

// DealiasImage removes alias; KindNotFound (object "image alias") when there is no such
// alias. Superadmins only.
func (s *Service) DealiasImage(ctx context.Context, c Caller, alias string) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	if err := requireSuperadmin(c); err != nil {
		return err
	}
	n, err := db.Q.ImageAliasDelete(ctx, s.d.Pool, alias)
	return dissociated(n, err, objImageAlias, alias)
}

// forgetImage deletes the image row (and its aliases) that find loads. Superadmins forget
// any image; other users only the customized images they own, else KindForbidden with
// object "image" and Backend.AI's text "Forbidden".
func (s *Service) forgetImage(ctx context.Context, c Caller, find func(pgx.Tx) (*dbsqlc.Image, error)) (*dbsqlc.Image, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	switch c.Role {
	case dbsqlc.UserRoleSuperadmin, dbsqlc.UserRoleAdmin, dbsqlc.UserRoleUser:
	default:
		return nil, forbidden("Only users may forget images.")
	}
	var out *dbsqlc.Image
	err := db.InTx(ctx, s.d.Pool, func(tx pgx.Tx) error {
		img, err := find(tx)
		if db.IsNotFound(err) {
			return notFound(objImage, MsgNoSuchImage)
		}
		if err != nil {
			return fromDB(err, objImage)
		}
		if !c.IsSuperadmin() && imageOwner(img.Labels) != "user:"+c.UserUUID.String() {
			return &Error{Kind: KindForbidden, Object: objImage, Msg: "Forbidden"}
		}
		n, err := db.Q.ImageDeleteByID(ctx, tx, img.ID)
		if err := deleted(n, err, objImage); err != nil {
			return err
		}
		out = img
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// imageOwner reads the customized-image owner label ("" when absent or unreadable).
func imageOwner(labels json.RawMessage) string {
	var m map[string]any
	if json.Unmarshal(labels, &m) != nil {
		return ""
	}
	v, _ := m[CustomizedImageOwnerLabel].(string)
	return v
}

// ForgetImage deletes the image reference names (a canonical name in architecture arch,
// else an alias) with its aliases, and returns the deleted row. Unknown images are
// KindNotFound with MsgNoSuchImage. Superadmins forget any image, other users only the
// customized images they own.
func (s *Service) ForgetImage(ctx context.Context, c Caller, reference, arch string) (*dbsqlc.Image, error) {
	arch = registry.NormalizeArch(arch)
	return s.forgetImage(ctx, c, func(tx pgx.Tx) (*dbsqlc.Image, error) {
		return db.Q.ImageGetByReference(ctx, tx, &dbsqlc.ImageGetByReferenceParams{Reference: reference, Architecture: arch})
	})
}

// ForgetImageByID is ForgetImage for the image row id.
func (s *Service) ForgetImageByID(ctx context.Context, c Caller, id uuid.UUID) (*dbsqlc.Image, error) {
	return s.forgetImage(ctx, c, func(tx pgx.Tx) (*dbsqlc.Image, error) {
		return db.Q.ImageGetByID(ctx, tx, id)
	})
}

// Rescan is a queued image rescan.
type Rescan struct {
	// TaskID is the id of the image:rescan task; the same rescan queued twice has one.
	TaskID string
	// TaskUUID is a UUID derived from TaskID, for clients that expect a UUID.
	TaskUUID uuid.UUID
	// Queued is false when the same rescan was already queued or running.
	Queued bool
}

// rescanNamespace derives the UUIDs of rescan tasks.
var rescanNamespace = uuid.NewSHA1(uuid.NameSpaceURL, []byte("hangar:image:rescan")) //nolint:gochecknoglobals

// RescanImages queues an image:rescan task for a worker over target: a registry name,
// REGISTRY/REPOSITORY[:TAG], or "" for every registry. The target must name one of regs (the
// registries of the shared configuration). Superadmins and domain admins.
func (s *Service) RescanImages(ctx context.Context, c Caller, target string, regs []config.ContainerRegistry) (*Rescan, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	if err := requireAnyAdmin(c); err != nil {
		return nil, err
	}
	if target == "" {
		if len(regs) == 0 {
			return nil, invalid("registry", "No container registry is configured.", nil)
		}
	} else if _, _, err := registry.ParseTarget(target, regs); err != nil {
		return nil, invalid("registry", err.Error(), map[string]string{"registry": target})
	}
	if s.d.Enqueuer == nil {
		return nil, &Error{Kind: KindUnavailable, Msg: "Cannot queue the rescan: no task queue."}
	}
	task, err := jobs.NewImageRescanTask(jobs.ImageRescanPayload{Target: target})
	if err != nil {
		return nil, err
	}
	out := &Rescan{TaskID: jobs.ImageRescanTaskID(target)}
	out.TaskUUID = uuid.NewSHA1(rescanNamespace, []byte(out.TaskID))
	_, err = s.d.Enqueuer.Enqueue(ctx, task)
	switch {
	case err == nil:
		out.Queued = true
	case jobs.IsDuplicate(err):
	default:
		return nil, &Error{Kind: KindUnavailable, Msg: "Cannot queue the rescan: " + err.Error()}
	}
	return out, nil
}

// ClearImages deletes every image of the registry named, with their aliases; a registry
// with no images is fine. Superadmins only.
func (s *Service) ClearImages(ctx context.Context, c Caller, registryName string) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	if err := requireSuperadmin(c); err != nil {
		return err
	}
	if registryName == "" {
		return invalid("registry", "registry: required", map[string]string{"registry": "required"})
	}
	_, err := db.Q.ImageDeleteByRegistry(ctx, s.d.Pool, registryName)
	return fromDB(err, objImage)
}

// ResourceLimit is an image's limit on one resource slot; nil bounds are left out.
type ResourceLimit struct {
	Min, Max *string
}

// ImageModify changes an image row (modify_image's input): nil fields stay; Labels,
// Accelerators and ResourceLimits replace the stored values as a whole when not nil.
type ImageModify struct {
	Name           *string
	Registry       *string
	Image          *string
	Tag            *string
	Architecture   *string
	IsLocal        *bool
	SizeBytes      *int64
	Type           *string
	Digest         *string
	Labels         map[string]string
	Accelerators   []string
	ResourceLimits map[string]ResourceLimit
}

// ModifyImage changes the fields given of the image target names (a canonical name in
// architecture arch, else an alias). Unknown images are KindNotFound with MsgNoSuchImage.
// Superadmins only.
func (s *Service) ModifyImage(ctx context.Context, c Caller, target, arch string, in ImageModify) (*dbsqlc.Image, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	if err := requireSuperadmin(c); err != nil {
		return nil, err
	}
	params := &dbsqlc.ImageUpdateParams{
		Name: in.Name, Image: in.Image, Tag: in.Tag, Registry: in.Registry, IsLocal: in.IsLocal,
		ConfigDigest: in.Digest, SetAccelerators: in.Accelerators != nil,
	}
	if in.Architecture != nil {
		a := registry.NormalizeArch(*in.Architecture)
		params.Architecture = &a
	}
	if in.SizeBytes != nil {
		if *in.SizeBytes < 0 {
			return nil, invalid("size_bytes", "size_bytes: must not be negative", map[string]string{"size_bytes": "must not be negative"})
		}
		params.SizeBytes = in.SizeBytes
	}
	if in.Type != nil {
		t := dbsqlc.ImageType(*in.Type)
		if !t.Valid() {
			return nil, invalid("type", "type: must be COMPUTE, SYSTEM or SERVICE", map[string]string{"type": "unknown image type " + *in.Type})
		}
		params.Type = &t
	}
	for key, v := range map[string]*string{"name": in.Name, "image": in.Image, "tag": in.Tag, "registry": in.Registry, "architecture": in.Architecture} {
		if v != nil && *v == "" {
			return nil, invalid(key, key+": must not be empty", map[string]string{key: "empty"})
		}
	}
	var err error
	if in.Labels != nil {
		if params.Labels, err = json.Marshal(in.Labels); err != nil {
			return nil, err
		}
	}
	if in.Accelerators != nil {
		joined := strings.Join(in.Accelerators, ",")
		params.Accelerators = &joined
	}
	if in.ResourceLimits != nil {
		res := make(map[string]map[string]string, len(in.ResourceLimits))
		for slot, l := range in.ResourceLimits {
			if slot == "" {
				return nil, invalid("resource_limits", "resource_limits: a slot name is empty", map[string]string{"resource_limits": "empty slot name"})
			}
			m := map[string]string{}
			if l.Min != nil {
				m["min"] = *l.Min
			}
			if l.Max != nil {
				m["max"] = *l.Max
			}
			res[slot] = m
		}
		if params.Resources, err = json.Marshal(res); err != nil {
			return nil, err
		}
	}
	var out *dbsqlc.Image
	err = db.InTx(ctx, s.d.Pool, func(tx pgx.Tx) error {
		img, err := db.Q.ImageGetByReference(ctx, tx, &dbsqlc.ImageGetByReferenceParams{Reference: target, Architecture: registry.NormalizeArch(arch)})
		if db.IsNotFound(err) {
			return notFound(objImage, MsgNoSuchImage)
		}
		if err != nil {
			return fromDB(err, objImage)
		}
		params.ID = img.ID
		out, err = db.Q.ImageUpdate(ctx, tx, params)
		return fromDB(err, objImage)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
