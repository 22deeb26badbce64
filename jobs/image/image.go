// Package image rescans container registries into the images table: the image:rescan task
// (asked for through POST /admin/images/rescan, or enqueued periodically by the leader) and
// the in-process rescan behind `hangar image rescan`.
//
// internal/registry reads the registries; this package stores what it found, one
// transaction per registry. Images are upserted by (name, architecture) with last_seen_at
// set to the scan's time and missing_since cleared. Images the scan covered but did not
// find (a tag deleted, a repository gone, an architecture dropped from an index, labels no
// longer valid) get missing_since set; they are never deleted, so aliases and running
// sessions keep pointing at them. Images whose tag could not be read (a 401 on one
// repository, a timeout, a bad manifest) are left as they were. A missing image is still
// resolvable by session creation: the registry is the authority on pulls, and an agent
// that cannot pull the image fails the session with its own error. `hangar image list`
// and GET /admin/images show missing_since.
//
// Every run is idempotent: rescanning an unchanged registry updates last_seen_at only.
package image

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hangar-run/hangar/internal/config"
	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
	"github.com/hangar-run/hangar/internal/registry"
	"github.com/hangar-run/hangar/internal/worker"
	"github.com/hangar-run/hangar/jobs"
)

// Report is the outcome of the rescan of one registry.
type Report struct {
	// Registry is the registry's name.
	Registry string
	// Err is the failure that stopped the registry's scan (unreachable, bad credentials,
	// unsupported type, database error); nil when it was scanned.
	Err error
	// Added, Updated and Unchanged count the images stored: new rows, rows whose config
	// digest changed or that were missing and came back, and rows seen as they were.
	Added, Updated, Unchanged int
	// Missing are the canonical names (name@architecture) newly marked missing.
	Missing []string
	// Skipped are the images left out because of their labels.
	Skipped []registry.Skipped
	// Errors are the repositories and tags that could not be read.
	Errors []registry.RefError
	// Tags is the number of tags read.
	Tags int
	// Elapsed is how long the registry took.
	Elapsed time.Duration
}

// Images is the number of images stored.
func (r *Report) Images() int { return r.Added + r.Updated + r.Unchanged }

// Options configure a rescan.
type Options struct {
	// Scan tunes the registry reads (concurrency, timeouts, progress).
	Scan registry.Options
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Rescan scans what target names among regs ("" for every registry, a registry name, or
// REGISTRY/REPOSITORY[:TAG]) and stores the results. It returns one report per registry
// (registries one after the other, in name order); a registry that fails has its Err set
// and does not stop the others. The error is for a bad target only.
func Rescan(ctx context.Context, pool *pgxpool.Pool, regs []config.ContainerRegistry, target string, o Options) ([]*Report, error) {
	type job struct {
		reg config.ContainerRegistry
		t   registry.Target
	}
	var todo []job
	if strings.TrimSpace(target) == "" {
		if len(regs) == 0 {
			return nil, fmt.Errorf("no container registry is configured (%s/<name>)", config.ContainerRegistriesKey)
		}
		for _, r := range regs {
			todo = append(todo, job{reg: r})
		}
	} else {
		reg, t, err := registry.ParseTarget(target, regs)
		if err != nil {
			return nil, err
		}
		todo = append(todo, job{reg: reg, t: t})
	}
	now := o.Now
	if now == nil {
		now = time.Now
	}
	reports := make([]*Report, 0, len(todo))
	for _, j := range todo {
		start := time.Now()
		rep := &Report{Registry: j.reg.Name}
		res, err := registry.Scan(ctx, j.reg, j.t, o.Scan)
		if err == nil {
			err = Store(ctx, pool, res, now(), rep)
		}
		rep.Err = err
		rep.Elapsed = time.Since(start)
		reports = append(reports, rep)
		if ctx.Err() != nil {
			return reports, ctx.Err()
		}
	}
	return reports, nil
}

// Store writes a scan result in one transaction: it upserts the images (stamped with now)
// and marks missing the images the scan covered but did not find. It fills rep's counts.
func Store(ctx context.Context, pool *pgxpool.Pool, res *registry.Result, now time.Time, rep *Report) error {
	now = now.UTC().Truncate(time.Microsecond) // the database's precision: stamps compare equal
	var added, updated, unchanged int
	var missing []string
	err := db.InTx(ctx, pool, func(tx pgx.Tx) error {
		added, updated, unchanged, missing = 0, 0, 0, nil
		for _, img := range res.Images {
			labels, err := json.Marshal(img.Labels)
			if err != nil {
				return err
			}
			resources, err := json.Marshal(img.Resources)
			if err != nil {
				return err
			}
			var acc *string
			if img.Accelerators != "" {
				acc = &img.Accelerators
			}
			row, err := db.Q.ImageUpsert(ctx, tx, &dbsqlc.ImageUpsertParams{
				Name: img.Name, Image: img.Repository, Tag: img.Tag, Registry: img.Registry,
				Architecture: img.Architecture, ConfigDigest: img.ConfigDigest, ManifestDigest: img.ManifestDigest,
				SizeBytes: img.SizeBytes, Accelerators: acc, Labels: labels, Resources: resources, Now: now,
			})
			if err != nil {
				return fmt.Errorf("store %s (%s): %w", img.Name, img.Architecture, err)
			}
			switch {
			case row.Inserted:
				added++
			case row.WasMissing || row.OldConfigDigest != img.ConfigDigest:
				updated++
			default:
				unchanged++
			}
		}
		rows, err := db.Q.ImageMarkMissing(ctx, tx, &dbsqlc.ImageMarkMissingParams{
			Now: now, Registry: res.Registry, Failed: nonNil(res.Failed),
			WholeRegistry: res.Catalog != nil, Catalog: nonNil(res.Catalog),
			Repos: nonNil(res.Repos), Names: nonNil(res.Names),
		})
		if err != nil {
			return fmt.Errorf("mark missing images: %w", err)
		}
		for _, r := range rows {
			missing = append(missing, r.Name+"@"+r.Architecture)
		}
		return nil
	})
	if err != nil {
		return err
	}
	rep.Added, rep.Updated, rep.Unchanged, rep.Missing = added, updated, unchanged, missing
	rep.Skipped, rep.Errors, rep.Tags = res.Skipped, res.Errors, res.Tags
	return nil
}

// nonNil returns s, or an empty slice for nil (a nil array parameter would be SQL NULL).
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// Handlers processes image:rescan tasks. It is safe for concurrent use.
type Handlers struct {
	pool   *pgxpool.Pool
	etcd   *config.Etcd
	logger *slog.Logger
	now    func() time.Time
}

// New returns Handlers that read the registries from deps.Etcd at each task.
func New(deps *worker.Deps) *Handlers {
	h := &Handlers{pool: deps.Pool, etcd: deps.Etcd, logger: deps.Logger, now: deps.Now}
	if h.logger == nil {
		h.logger = slog.Default()
	}
	if h.now == nil {
		h.now = time.Now
	}
	return h
}

// Register registers the image handlers on mux.
func Register(mux *asynq.ServeMux, deps *worker.Deps) error {
	New(deps).Register(mux)
	return nil
}

// Register registers h's handlers on mux under their exact task types.
func (h *Handlers) Register(mux *asynq.ServeMux) {
	mux.HandleFunc(jobs.TypeImageRescan, h.HandleRescan)
}

// registries reads the configured registries.
func (h *Handlers) registries(ctx context.Context) ([]config.ContainerRegistry, error) {
	if h.etcd == nil {
		return nil, errors.New("no shared configuration")
	}
	return h.etcd.ContainerRegistries(ctx)
}

// HandleRescan rescans the payload's target and logs one line per registry. A periodic
// rescan with no registry configured does nothing. The task fails (and is retried) when
// every registry failed; a bad target is not retried.
func (h *Handlers) HandleRescan(ctx context.Context, t *asynq.Task) error {
	var p jobs.ImageRescanPayload
	if err := jobs.Decode(t, &p); err != nil {
		return err
	}
	regs, err := h.registries(ctx)
	if err != nil {
		return err
	}
	if p.Target == "" && len(regs) == 0 {
		h.logger.Debug("image rescan: no container registry configured")
		return nil
	}
	reports, err := Rescan(ctx, h.pool, regs, p.Target, Options{Now: h.now})
	if err != nil && len(reports) == 0 {
		return fmt.Errorf("image rescan %q: %v: %w", p.Target, err, asynq.SkipRetry)
	}
	var failed []error
	for _, r := range reports {
		if r.Err != nil {
			h.logger.Warn("image rescan failed", "registry", r.Registry, "err", r.Err)
			failed = append(failed, fmt.Errorf("%s: %w", r.Registry, r.Err))
			continue
		}
		h.logger.Info("image rescan", "registry", r.Registry, "added", r.Added, "updated", r.Updated,
			"unchanged", r.Unchanged, "skipped", len(r.Skipped), "errors", len(r.Errors),
			"missing", len(r.Missing), "elapsed", r.Elapsed.Round(time.Millisecond))
		for _, e := range r.Errors {
			h.logger.Warn("image rescan: cannot read", "ref", e.Ref, "err", e.Err)
		}
	}
	if len(failed) == len(reports) && len(failed) > 0 {
		return fmt.Errorf("image rescan: %w", errors.Join(failed...))
	}
	return err
}
