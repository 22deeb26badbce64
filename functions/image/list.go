package image

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/db"
)

// Image is one image of one architecture.
type Image struct {
	ID             string          `json:"id" format:"uuid" doc:"Row id."`
	Name           string          `json:"name" doc:"Canonical name: registry/repository:tag." example:"cr.backend.ai/stable/python:3.11-ubuntu22.04"`
	Registry       string          `json:"registry" doc:"Registry name." example:"cr.backend.ai"`
	Image          string          `json:"image" doc:"Repository inside the registry." example:"stable/python"`
	Tag            string          `json:"tag" doc:"Tag." example:"3.11-ubuntu22.04"`
	Architecture   string          `json:"architecture" doc:"Architecture (x86_64, aarch64, ...)." example:"x86_64"`
	ConfigDigest   string          `json:"digest" doc:"Digest of the image config." example:"sha256:2e8b7f5c..."`
	ManifestDigest string          `json:"manifest_digest" doc:"Digest of the image manifest; empty for images not stored by a rescan."`
	SizeBytes      int64           `json:"size_bytes" doc:"Sum of the layer sizes and the config size."`
	Type           string          `json:"type" doc:"COMPUTE, SYSTEM or SERVICE." example:"COMPUTE"`
	IsLocal        bool            `json:"is_local" doc:"Whether the image comes from an agent's local store."`
	Accelerators   *string         `json:"accelerators" doc:"The ai.backend.accelerators label." example:"cuda"`
	Labels         json.RawMessage `json:"labels" doc:"All labels of the image config."`
	Resources      json.RawMessage `json:"resource_limits" doc:"Slot limits: {slot: {\"min\": amount, \"max\": amount or null}}."`
	Aliases        []string        `json:"aliases" doc:"Aliases naming this image."`
	CreatedAt      time.Time       `json:"created_at" doc:"When the row was created."`
	LastSeenAt     *time.Time      `json:"last_seen_at" doc:"When a rescan last found the image; null if never."`
	MissingSince   *time.Time      `json:"missing_since" doc:"Since when rescans no longer find the image in its registry; null while it is there."`
}

// ImageListOutput is the answer of GET /admin/images.
type ImageListOutput struct {
	Body struct {
		Items []Image `json:"items" doc:"The images by name and architecture."`
	}
}

func registerListImages(s *functions.Server) {
	type input struct {
		Registry string `query:"registry" doc:"Only the images of this registry."`
	}
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "list-images", Method: http.MethodGet, Path: "/admin/images", Tag: tag,
		Summary:     "List images",
		Description: "Every image row (one per name and architecture) with its labels, limits and aliases, and whether the last rescan still found it.",
		Role:        functions.Superadmin, Frozen: functions.ReadAllowed,
	}), func(ctx context.Context, in *input) (*ImageListOutput, error) {
		var reg *string
		if in.Registry != "" {
			reg = &in.Registry
		}
		rows, err := db.Q.ImageList(ctx, s.Deps().Pool, reg)
		if err != nil {
			return nil, functions.FromDB(err, "image")
		}
		out := &ImageListOutput{}
		out.Body.Items = make([]Image, 0, len(rows))
		for _, r := range rows {
			out.Body.Items = append(out.Body.Items, Image{
				ID: r.ID.String(), Name: r.Name, Registry: r.Registry, Image: r.Image, Tag: r.Tag,
				Architecture: r.Architecture, ConfigDigest: r.ConfigDigest, ManifestDigest: r.ManifestDigest,
				SizeBytes: r.SizeBytes, Type: r.Type, IsLocal: r.IsLocal, Accelerators: r.Accelerators,
				Labels: r.Labels, Resources: r.Resources, Aliases: r.Aliases, CreatedAt: r.CreatedAt,
				LastSeenAt: r.LastSeenAt, MissingSince: r.MissingSince,
			})
		}
		return out, nil
	})
}
