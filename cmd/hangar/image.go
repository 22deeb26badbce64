package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"

	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
	"github.com/hangar-run/hangar/internal/registry"
	"github.com/hangar-run/hangar/jobs/image"
)

// imageRescanOpts are the flags of `hangar image rescan`.
type imageRescanOpts struct {
	Concurrency int
	Timeout     time.Duration
	Quiet       bool
}

func init() {
	var ro imageRescanOpts
	rescan := &cobra.Command{
		Use:   "rescan [REGISTRY[/REPOSITORY[:TAG]]]",
		Short: "Scan container registries and update the images table",
		Long: "Reads the registries configured under config/docker/registry/<name> in etcd (all of them, " +
			"one, one repository or one tag) over the Docker Registry HTTP API v2 and upserts the images " +
			"that carry Backend.AI's labels; images no longer found are marked missing, never deleted. " +
			"Progress goes to standard error, one line per repository and tag; the summary to standard output. " +
			"The scan runs in this process; POST /admin/images/rescan queues it for a worker instead.",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			target := ""
			if len(args) == 1 {
				target = args[0]
			}
			return runImageRescan(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), target, ro)
		},
	}
	rescan.Flags().IntVar(&ro.Concurrency, "concurrency", registry.DefaultConcurrency, "tags read at once per registry")
	rescan.Flags().DurationVar(&ro.Timeout, "timeout", registry.DefaultTimeout, "time limit of each registry request group (a tag, a tag list)")
	rescan.Flags().BoolVarP(&ro.Quiet, "quiet", "q", false, "no progress lines")

	var listRegistry string
	list := &cobra.Command{
		Use:   "list",
		Short: "List the images with their architectures, digests, sizes, aliases and whether they are missing",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withImageDB(cmd, func(ctx context.Context, pool *pgxpool.Pool) error {
				var reg *string
				if listRegistry != "" {
					reg = &listRegistry
				}
				rows, err := db.Q.ImageList(ctx, pool, reg)
				if err != nil {
					return err
				}
				return printImages(cmd.OutOrStdout(), rows)
			})
		},
	}
	list.Flags().StringVar(&listRegistry, "registry", "", "only the images of this registry")

	alias := &cobra.Command{
		Use:   "alias ALIAS TARGET [ARCHITECTURE]",
		Short: "Make ALIAS name the image TARGET (a canonical name); ARCHITECTURE is needed when TARGET has several",
		Args:  cobra.RangeArgs(2, 3),
		RunE: func(cmd *cobra.Command, args []string) error {
			arch := ""
			if len(args) == 3 {
				arch = args[2]
			}
			return withImageDB(cmd, func(ctx context.Context, pool *pgxpool.Pool) error {
				rows, err := db.Q.ImageArchitectures(ctx, pool, args[1])
				if err != nil {
					return err
				}
				archs := make([]string, len(rows))
				for i, r := range rows {
					archs[i] = r.Architecture
				}
				chosen, err := registry.ChooseArchitecture(args[1], archs, arch)
				if err != nil {
					return err
				}
				for _, r := range rows {
					if r.Architecture != chosen {
						continue
					}
					if _, err := db.Q.ImageAliasSet(ctx, pool, &dbsqlc.ImageAliasSetParams{Alias: args[0], Image: r.ID}); err != nil {
						return err
					}
				}
				_, err = fmt.Fprintf(cmd.OutOrStdout(), "alias %s -> %s (%s)\n", args[0], args[1], chosen)
				return err
			})
		},
	}
	dealias := &cobra.Command{
		Use:   "dealias ALIAS",
		Short: "Remove an image alias",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withImageDB(cmd, func(ctx context.Context, pool *pgxpool.Pool) error {
				n, err := db.Q.ImageAliasDelete(ctx, pool, args[0])
				if err != nil {
					return err
				}
				if n == 0 {
					return fmt.Errorf("no alias %q", args[0])
				}
				_, err = fmt.Fprintf(cmd.OutOrStdout(), "alias %s removed\n", args[0])
				return err
			})
		},
	}
	cmd := &cobra.Command{Use: "image", Short: "Image commands: rescan registries, list images, manage aliases"}
	cmd.AddCommand(rescan, list, alias, dealias)
	rootCmd.AddCommand(cmd)
}

// withImageDB opens the database (which must have the schema), runs fn and closes it.
func withImageDB(cmd *cobra.Command, fn func(ctx context.Context, pool *pgxpool.Pool) error) error {
	e, err := loadEnv()
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	pool, err := e.openDB(ctx)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := requireSchema(ctx, pool); err != nil {
		return err
	}
	return fn(ctx, pool)
}

// runImageRescan scans target (see image.Rescan) and prints progress to progress and a
// summary to out. It fails when a registry failed or a tag could not be read.
func runImageRescan(ctx context.Context, out, progress io.Writer, target string, o imageRescanOpts) error {
	e, err := loadEnv()
	if err != nil {
		return err
	}
	pool, err := e.openDB(ctx)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := requireSchema(ctx, pool); err != nil {
		return err
	}
	ectx, cancel := context.WithTimeout(ctx, etcdOpTimeout)
	store, err := e.openEtcd(ectx)
	if err != nil {
		cancel()
		return err
	}
	regs, err := store.ContainerRegistries(ectx)
	cancel()
	_ = store.Close()
	if err != nil {
		return err
	}

	scanOpts := registry.Options{Concurrency: o.Concurrency, Timeout: o.Timeout}
	if !o.Quiet {
		scanOpts.Progress = func(p registry.Progress) { printProgress(progress, p) }
	}
	start := time.Now()
	reports, err := image.Rescan(ctx, pool, regs, target, image.Options{Scan: scanOpts})
	if err != nil && len(reports) == 0 {
		return err
	}
	elapsed := time.Since(start)
	var failed int
	total := 0
	for _, r := range reports {
		total += r.Images()
		if r.Err != nil {
			failed++
			fmt.Fprintf(out, "%s: FAILED: %v\n", r.Registry, r.Err)
			continue
		}
		fmt.Fprintf(out, "%s: %d added, %d updated, %d unchanged, %d skipped, %d errors, %d marked missing (%d tags in %s)\n",
			r.Registry, r.Added, r.Updated, r.Unchanged, len(r.Skipped), len(r.Errors), len(r.Missing), r.Tags, r.Elapsed.Round(time.Millisecond))
		for _, s := range r.Skipped {
			fmt.Fprintf(out, "  skipped %s (%s): %s\n", s.Name, s.Architecture, s.Reason)
		}
		for _, e := range r.Errors {
			fmt.Fprintf(out, "  error %s: %v\n", e.Ref, e.Err)
		}
		for _, m := range r.Missing {
			fmt.Fprintf(out, "  missing %s\n", m)
		}
		if len(r.Errors) > 0 {
			failed++
		}
	}
	rate := 0.0
	if s := elapsed.Seconds(); s > 0 {
		rate = float64(total) / s
	}
	fmt.Fprintf(out, "%d images in %s (%.1f images/s)\n", total, elapsed.Round(time.Millisecond), rate)
	if err != nil {
		return err
	}
	if failed > 0 {
		return errors.New("the rescan was incomplete (see above)")
	}
	return nil
}

// printProgress writes one progress line.
func printProgress(w io.Writer, p registry.Progress) {
	switch p.Step {
	case "repos":
		fmt.Fprintf(w, "[%s] %d repositories\n", p.Registry, p.ReposTotal)
	case "repo":
		status := "listed"
		if p.Err != nil {
			status = "ERROR " + p.Err.Error()
		}
		fmt.Fprintf(w, "[%s] repo %d/%d %s: %s\n", p.Registry, p.ReposDone, p.ReposTotal, p.Ref, status)
	case "tag":
		status := fmt.Sprintf("%d images", p.Images)
		if p.Skipped > 0 {
			status += fmt.Sprintf(", %d skipped", p.Skipped)
		}
		if p.Err != nil {
			status = "ERROR " + p.Err.Error()
		}
		fmt.Fprintf(w, "[%s] tag %d/%d %s: %s\n", p.Registry, p.TagsDone, p.TagsTotal, p.Ref, status)
	}
}

// printImages writes the image table.
func printImages(w io.Writer, rows []*dbsqlc.ImageListRow) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tARCH\tDIGEST\tSIZE\tSTATUS\tALIASES")
	for _, r := range rows {
		digest := strings.TrimPrefix(r.ConfigDigest, "sha256:")
		if len(digest) > 12 {
			digest = digest[:12]
		}
		status := "ok"
		switch {
		case r.MissingSince != nil:
			status = "missing since " + r.MissingSince.UTC().Format(time.RFC3339)
		case r.IsLocal:
			status = "local"
		case r.LastSeenAt == nil:
			status = "never scanned"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Name, r.Architecture, digest, humanBytes(r.SizeBytes), status, strings.Join(r.Aliases, ","))
	}
	return tw.Flush()
}

// humanBytes formats n in binary units.
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
