package registry

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/hangar-run/hangar/internal/config"
)

// Defaults of Options.
const (
	// DefaultConcurrency is how many tags (and tag lists) of one registry are read at once.
	DefaultConcurrency = 4
	// DefaultPageSize is the page size of catalog, tag and Harbor repository listings.
	DefaultPageSize = 100
	// DefaultTimeout bounds the reading of one tag, one tag list or one listing page.
	DefaultTimeout = 30 * time.Second
)

// attestationAnnotation marks index entries that are build attestations, not images.
const attestationAnnotation = "vnd.docker.reference.type"

// Options tune a scan. The zero value scans with the defaults.
type Options struct {
	// Concurrency is the number of tags in flight; DefaultConcurrency when zero.
	Concurrency int
	// PageSize is the listing page size; DefaultPageSize when zero.
	PageSize int
	// Timeout bounds each request group (a tag with its manifests and configs, a tag list,
	// the catalog); DefaultTimeout when zero.
	Timeout time.Duration
	// Progress, when set, is called after the repositories are listed and after each
	// repository's tag list and each tag, one call at a time.
	Progress func(Progress)
	// Transport replaces the HTTP transport (tests); nil uses go-containerregistry's
	// default, without certificate checks when the registry's SSLVerify is false.
	Transport http.RoundTripper
}

// Progress reports how far a scan got.
type Progress struct {
	// Registry is the registry's name.
	Registry string
	// Step is "repos" (the repositories were listed), "repo" (one repository's tags were
	// listed) or "tag" (one tag was read).
	Step string
	// Ref is the repository ("repo") or the canonical image name ("tag") just done.
	Ref string
	// Err is the step's error, if it failed.
	Err error
	// Images and Skipped count the images found and skipped in this step ("tag").
	Images, Skipped int
	// ReposDone, ReposTotal, TagsDone and TagsTotal count the work so far.
	ReposDone, ReposTotal, TagsDone, TagsTotal int
	// Errors counts the failed steps so far.
	Errors int
}

// Image is one image of one architecture found in a registry.
type Image struct {
	// Name is the canonical name: <registry name>/<repository>:<tag>.
	Name string
	// Registry is the registry's name, Repository the repository path inside it (Backend.AI's
	// images.image) and Tag the tag.
	Registry, Repository, Tag string
	// Architecture is the normalized architecture (x86_64, aarch64, ...).
	Architecture string
	// ConfigDigest is the digest of the image's config blob ("sha256:...").
	ConfigDigest string
	// ManifestDigest is the digest of the image's own manifest.
	ManifestDigest string
	// SizeBytes is the sum of the layer sizes and the config size.
	SizeBytes int64
	// Labels are the config's labels.
	Labels map[string]string
	// Resources are the slot limits (see Resources).
	Resources map[string]SlotLimit
	// Accelerators is the ai.backend.accelerators label ("" when absent).
	Accelerators string
}

// Skipped is an image left out because of its labels.
type Skipped struct {
	// Name is the canonical name, Architecture the normalized architecture.
	Name, Architecture string
	// Reason says why.
	Reason string
}

// RefError is a repository or tag that could not be read.
type RefError struct {
	// Ref is the repository or canonical image name.
	Ref string
	// Err is the failure.
	Err error
}

func (e *RefError) Error() string { return e.Ref + ": " + e.Err.Error() }
func (e *RefError) Unwrap() error { return e.Err }

// Result is what a scan found in one registry.
type Result struct {
	// Registry is the registry's name.
	Registry string
	// Images are the usable images, sorted by name and architecture.
	Images []Image
	// Skipped are the images left out because of their labels.
	Skipped []Skipped
	// Errors are the repositories and tags that could not be read.
	Errors []RefError
	// Catalog, when non-nil, is the complete list of the registry's repositories (a
	// whole-registry scan whose listing succeeded): repositories not in it are gone.
	Catalog []string
	// Repos are the repositories whose tag lists were read completely: their tags not
	// listed are gone.
	Repos []string
	// Names are the canonical names of the tags read when the scan named its tag.
	Names []string
	// Failed are the canonical names of tags that were listed but could not be read: what
	// is known of them must be kept as is.
	Failed []string
	// Tags is the number of tags read.
	Tags int
}

// Target names what to scan in a registry: everything, one repository (all its tags) or
// one tag.
type Target struct {
	// Repository, when set, limits the scan to that repository.
	Repository string
	// Tag, when set (with Repository), limits the scan to that tag.
	Tag string
}

// ParseTarget splits a command-line argument, REGISTRY or REGISTRY/REPOSITORY[:TAG], against
// the configured registries: the longest registry name that the argument equals or starts
// with followed by "/" wins.
func ParseTarget(arg string, regs []config.ContainerRegistry) (config.ContainerRegistry, Target, error) {
	arg = strings.TrimSpace(arg)
	best := -1
	for i, r := range regs {
		if (arg == r.Name || strings.HasPrefix(arg, r.Name+"/")) && (best < 0 || len(r.Name) > len(regs[best].Name)) {
			best = i
		}
	}
	if best < 0 {
		names := make([]string, 0, len(regs))
		for _, r := range regs {
			names = append(names, r.Name)
		}
		return config.ContainerRegistry{}, Target{}, fmt.Errorf("unknown registry in %q (configured: %s)", arg, strings.Join(names, ", "))
	}
	reg := regs[best]
	rest := strings.TrimPrefix(strings.TrimPrefix(arg, reg.Name), "/")
	var t Target
	if rest != "" {
		t.Repository = rest
		if i := strings.LastIndex(rest, ":"); i > strings.LastIndex(rest, "/") {
			t.Repository, t.Tag = rest[:i], rest[i+1:]
		}
		if t.Repository == "" || (t.Tag == "" && strings.HasSuffix(rest, ":")) {
			return reg, Target{}, fmt.Errorf("bad image reference %q", arg)
		}
	}
	return reg, t, nil
}

// Scan reads the images of reg (all of them, or those of target) and returns what it found.
// It fails only when the registry cannot be listed at all (unknown type, unreachable, bad
// credentials, no catalog); failures on single repositories or tags are in Result.Errors.
func Scan(ctx context.Context, reg config.ContainerRegistry, target Target, o Options) (*Result, error) {
	o.setDefaults()
	s, err := newScanner(reg, o)
	if err != nil {
		return nil, err
	}
	return s.scan(ctx, target)
}

func (o *Options) setDefaults() {
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.PageSize <= 0 {
		o.PageSize = DefaultPageSize
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
}

// scanner scans one registry.
type scanner struct {
	reg     config.ContainerRegistry
	o       Options
	base    *url.URL
	nameOpt []name.Option
	puller  *remote.Puller
	http    *http.Client

	mu       sync.Mutex
	res      *Result
	progress Progress
}

func newScanner(reg config.ContainerRegistry, o Options) (*scanner, error) {
	switch reg.Type {
	case "", "docker", "harbor2":
	default:
		return nil, fmt.Errorf("registry %s: type %q is not supported (docker or harbor2)", reg.Name, reg.Type)
	}
	base, err := url.Parse(reg.URL)
	if err != nil || base.Host == "" {
		return nil, fmt.Errorf("registry %s: bad URL %q", reg.Name, reg.URL)
	}
	var nameOpt []name.Option
	if base.Scheme == "http" {
		nameOpt = append(nameOpt, name.Insecure)
	}
	tr := o.Transport
	if tr == nil {
		tr = remote.DefaultTransport
		if !reg.SSLVerify {
			t := remote.DefaultTransport.(*http.Transport).Clone()
			t.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // the registry's ssl_verify is false
			tr = t
		}
	}
	auth := authn.Anonymous
	if reg.Username != "" || reg.Password != "" {
		auth = &authn.Basic{Username: reg.Username, Password: reg.Password}
	}
	puller, err := remote.NewPuller(remote.WithTransport(tr), remote.WithAuth(auth),
		remote.WithPageSize(o.PageSize), remote.WithUserAgent("hangar-image-rescan"))
	if err != nil {
		return nil, fmt.Errorf("registry %s: %w", reg.Name, err)
	}
	return &scanner{
		reg: reg, o: o, base: base, nameOpt: nameOpt, puller: puller,
		http:     &http.Client{Transport: tr},
		res:      &Result{Registry: reg.Name},
		progress: Progress{Registry: reg.Name},
	}, nil
}

// repoRef returns the go-containerregistry repository of path.
func (s *scanner) repoRef(path string) (name.Repository, error) {
	return name.NewRepository(s.base.Host+"/"+path, s.nameOpt...)
}

func (s *scanner) scan(ctx context.Context, target Target) (*Result, error) {
	var repos []string
	switch {
	case target.Repository != "":
		repos = []string{target.Repository}
	default:
		var err error
		if repos, err = s.listRepos(ctx); err != nil {
			return nil, fmt.Errorf("registry %s: list repositories: %w", s.reg.Name, err)
		}
		sort.Strings(repos)
		s.res.Catalog = repos
	}
	s.report(func(p *Progress) { p.Step, p.ReposTotal = "repos", len(repos) })

	// Tag lists, then tags, each with bounded concurrency.
	type tagJob struct{ repo, tag string }
	var jobs []tagJob
	if target.Tag != "" {
		jobs = append(jobs, tagJob{target.Repository, target.Tag})
		s.res.Names = append(s.res.Names, s.canonical(target.Repository, target.Tag))
		s.report(func(p *Progress) { p.Step, p.Ref, p.ReposDone, p.TagsTotal = "repo", target.Repository, 1, 1 })
	} else {
		tagsOf := make([][]string, len(repos))
		s.each(ctx, len(repos), func(i int) {
			tags, err := s.listTags(ctx, repos[i])
			s.mu.Lock()
			defer s.mu.Unlock()
			if err != nil {
				s.res.Errors = append(s.res.Errors, RefError{Ref: s.reg.Name + "/" + repos[i], Err: err})
				s.progress.Errors++
			} else {
				tagsOf[i] = tags
				s.res.Repos = append(s.res.Repos, repos[i])
				s.progress.TagsTotal += len(tags)
			}
			s.progress.Step, s.progress.Ref, s.progress.Err = "repo", repos[i], err
			s.progress.ReposDone++
			s.emitLocked()
		})
		for i, tags := range tagsOf {
			for _, t := range tags {
				jobs = append(jobs, tagJob{repos[i], t})
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.each(ctx, len(jobs), func(i int) {
		j := jobs[i]
		imgs, skipped, err := s.scanTag(ctx, j.repo, j.tag)
		ref := s.canonical(j.repo, j.tag)
		s.mu.Lock()
		defer s.mu.Unlock()
		s.res.Tags++
		s.res.Images = append(s.res.Images, imgs...)
		s.res.Skipped = append(s.res.Skipped, skipped...)
		if err != nil {
			s.res.Errors = append(s.res.Errors, RefError{Ref: ref, Err: err})
			s.res.Failed = append(s.res.Failed, ref)
			s.progress.Errors++
		}
		s.progress.Step, s.progress.Ref, s.progress.Err = "tag", ref, err
		s.progress.Images, s.progress.Skipped = len(imgs), len(skipped)
		s.progress.TagsDone++
		s.emitLocked()
		s.progress.Images, s.progress.Skipped = 0, 0
	})
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	sort.Slice(s.res.Images, func(i, j int) bool {
		a, b := s.res.Images[i], s.res.Images[j]
		return a.Name < b.Name || a.Name == b.Name && a.Architecture < b.Architecture
	})
	sort.Slice(s.res.Errors, func(i, j int) bool { return s.res.Errors[i].Ref < s.res.Errors[j].Ref })
	sort.Slice(s.res.Skipped, func(i, j int) bool { return s.res.Skipped[i].Name < s.res.Skipped[j].Name })
	sort.Strings(s.res.Repos)
	sort.Strings(s.res.Failed)
	return s.res, nil
}

// each runs fn(0..n-1) with at most o.Concurrency calls at once, stopping early when ctx
// ends.
func (s *scanner) each(ctx context.Context, n int, fn func(i int)) {
	sem := make(chan struct{}, s.o.Concurrency)
	var wg sync.WaitGroup
	for i := range n {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return
		}
		wg.Go(func() {
			defer func() { <-sem }()
			fn(i)
		})
	}
	wg.Wait()
}

func (s *scanner) report(f func(p *Progress)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(&s.progress)
	s.emitLocked()
}

func (s *scanner) emitLocked() {
	if s.o.Progress != nil {
		s.o.Progress(s.progress)
	}
	s.progress.Err = nil
}

func (s *scanner) canonical(repo, tag string) string { return s.reg.Name + "/" + repo + ":" + tag }

// listRepos lists the registry's repositories: the v2 catalog, or Harbor's per-project
// repository lists.
func (s *scanner) listRepos(ctx context.Context) ([]string, error) {
	if strings.HasSuffix(s.base.Hostname(), "docker.io") {
		return nil, errors.New("Docker Hub cannot be scanned whole; name an image (REGISTRY/REPOSITORY[:TAG])")
	}
	if s.reg.Type == "harbor2" {
		return s.listHarborRepos(ctx)
	}
	reg, err := name.NewRegistry(s.base.Host, s.nameOpt...)
	if err != nil {
		return nil, err
	}
	lctx, cancel := context.WithTimeout(ctx, s.o.Timeout)
	defer cancel()
	cat, err := s.puller.Catalogger(lctx, reg)
	if err != nil {
		return nil, describe(err)
	}
	var repos []string
	for cat.HasNext() {
		pctx, pcancel := context.WithTimeout(ctx, s.o.Timeout)
		page, err := cat.Next(pctx)
		pcancel()
		if err != nil {
			return nil, describe(err)
		}
		repos = append(repos, page.Repos...)
	}
	return repos, nil
}

// listHarborRepos lists the repositories of the configured projects with Harbor's
// GET /api/v2.0/projects/<project>/repositories (paged).
func (s *scanner) listHarborRepos(ctx context.Context) ([]string, error) {
	if len(s.reg.Projects) == 0 {
		return nil, errors.New("a harbor2 registry needs its projects (the project key)")
	}
	var repos []string
	for _, project := range s.reg.Projects {
		for page := 1; ; page++ {
			u := *s.base
			u.Path = strings.TrimSuffix(u.Path, "/") + "/api/v2.0/projects/" + url.PathEscape(project) + "/repositories"
			u.RawQuery = url.Values{"page": {fmt.Sprint(page)}, "page_size": {fmt.Sprint(s.o.PageSize)}}.Encode()
			var items []struct {
				Name string `json:"name"`
			}
			if err := s.getJSON(ctx, u.String(), &items); err != nil {
				return nil, fmt.Errorf("project %s: %w", project, err)
			}
			for _, it := range items {
				repos = append(repos, it.Name)
			}
			if len(items) < s.o.PageSize {
				break
			}
		}
	}
	return repos, nil
}

func (s *scanner) getJSON(ctx context.Context, u string, v any) error {
	rctx, cancel := context.WithTimeout(ctx, s.o.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	if s.reg.Username != "" || s.reg.Password != "" {
		req.SetBasicAuth(s.reg.Username, s.reg.Password)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := s.http.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// listTags lists a repository's tags; a repository that no longer exists has none.
func (s *scanner) listTags(ctx context.Context, repo string) ([]string, error) {
	r, err := s.repoRef(repo)
	if err != nil {
		return nil, err
	}
	lctx, cancel := context.WithTimeout(ctx, s.o.Timeout)
	defer cancel()
	tags, err := s.puller.List(lctx, r)
	if isNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, describe(err)
	}
	sort.Strings(tags)
	return tags, nil
}

// scanTag reads one tag: its images per architecture and the ones skipped. A tag that is
// gone (404) yields nothing and no error.
func (s *scanner) scanTag(ctx context.Context, repo, tag string) ([]Image, []Skipped, error) {
	tctx, cancel := context.WithTimeout(ctx, s.o.Timeout)
	defer cancel()
	r, err := s.repoRef(repo)
	if err != nil {
		return nil, nil, err
	}
	ref := r.Tag(tag)
	desc, err := s.puller.Get(tctx, ref)
	if isNotFound(err) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, describe(err)
	}
	base := Image{Name: s.canonical(repo, tag), Registry: s.reg.Name, Repository: repo, Tag: tag}
	var (
		imgs    []Image
		skipped []Skipped
	)
	add := func(img Image, reason string) {
		if reason != "" {
			skipped = append(skipped, Skipped{Name: img.Name, Architecture: img.Architecture, Reason: reason})
			return
		}
		imgs = append(imgs, img)
	}
	switch {
	case desc.MediaType.IsIndex():
		idx, err := v1.ParseIndexManifest(bytes.NewReader(desc.Manifest))
		if err != nil {
			return nil, nil, fmt.Errorf("bad index manifest: %w", err)
		}
		seen := map[string]bool{}
		for _, m := range idx.Manifests {
			if m.Annotations[attestationAnnotation] != "" || m.Platform == nil || !m.MediaType.IsImage() {
				continue
			}
			if os := m.Platform.OS; os != "" && os != "linux" || m.Platform.Architecture == "" || m.Platform.Architecture == "unknown" {
				continue
			}
			arch := NormalizeArch(m.Platform.Architecture)
			if seen[arch] {
				continue
			}
			seen[arch] = true
			child, err := s.puller.Get(tctx, r.Digest(m.Digest.String()))
			if err != nil {
				return nil, nil, fmt.Errorf("%s manifest %s: %w", arch, m.Digest, describe(err))
			}
			img, reason, err := s.readImage(child, base, arch)
			if err != nil {
				return nil, nil, fmt.Errorf("%s image: %w", arch, err)
			}
			add(img, reason)
		}
	case desc.MediaType.IsImage():
		img, reason, err := s.readImage(desc, base, "")
		if err != nil {
			return nil, nil, err
		}
		add(img, reason)
	default:
		return nil, nil, fmt.Errorf("unsupported manifest media type %q", desc.MediaType)
	}
	return imgs, skipped, nil
}

// readImage reads the manifest and config of one image. arch, when empty, comes from the
// config. A non-empty reason means the image is skipped.
func (s *scanner) readImage(desc *remote.Descriptor, base Image, arch string) (Image, string, error) {
	img, err := desc.Image()
	if err != nil {
		return base, "", fmt.Errorf("bad image manifest: %w", err)
	}
	m, err := img.Manifest()
	if err != nil {
		return base, "", fmt.Errorf("bad image manifest: %w", err)
	}
	raw, err := img.RawConfigFile()
	if err != nil {
		return base, "", fmt.Errorf("config blob %s: %w", m.Config.Digest, describe(err))
	}
	var cf imageConfig
	if err := json.Unmarshal(raw, &cf); err != nil {
		return base, "", fmt.Errorf("bad config blob %s: %w", m.Config.Digest, err)
	}
	out := base
	out.ManifestDigest = desc.Digest.String()
	out.ConfigDigest = m.Config.Digest.String()
	out.SizeBytes = m.Config.Size
	for _, l := range m.Layers {
		out.SizeBytes += l.Size
	}
	if arch == "" {
		arch = NormalizeArch(cf.Architecture)
	}
	if arch == "" {
		arch = "x86_64"
	}
	out.Architecture = arch
	out.Labels = cf.Config.Labels
	if len(out.Labels) == 0 {
		out.Labels = cf.ContainerConfig.Labels
	}
	if out.Labels == nil {
		out.Labels = map[string]string{}
	}
	if err := ValidateLabels(out.Labels); err != nil {
		return out, err.Error(), nil
	}
	out.Resources = Resources(out.Labels)
	out.Accelerators = out.Labels[LabelAccelerators]
	return out, "", nil
}

// imageConfig is what the scanner reads of an image config blob; container_config is where
// older builders put the labels.
type imageConfig struct {
	Architecture string `json:"architecture"`
	Config       struct {
		Labels map[string]string `json:"Labels"`
	} `json:"config"`
	ContainerConfig struct {
		Labels map[string]string `json:"Labels"`
	} `json:"container_config"`
}

// isNotFound reports whether err is a registry 404 (unknown repository or manifest).
func isNotFound(err error) bool {
	var te *transport.Error
	return errors.As(err, &te) && te.StatusCode == http.StatusNotFound
}

// describe shortens registry errors to their status and codes.
func describe(err error) error {
	var te *transport.Error
	if errors.As(err, &te) {
		codes := make([]string, 0, len(te.Errors))
		for _, d := range te.Errors {
			if !slices.Contains(codes, string(d.Code)) {
				codes = append(codes, string(d.Code))
			}
		}
		msg := fmt.Sprintf("HTTP %d %s", te.StatusCode, http.StatusText(te.StatusCode))
		if len(codes) > 0 {
			msg += " (" + strings.Join(codes, ", ") + ")"
		}
		return &StatusError{StatusCode: te.StatusCode, msg: msg, err: err}
	}
	return err
}

// StatusError is a registry answer with an HTTP error status.
type StatusError struct {
	// StatusCode is the HTTP status (401, 403, 404, 500, ...).
	StatusCode int
	msg        string
	err        error
}

func (e *StatusError) Error() string { return e.msg }
func (e *StatusError) Unwrap() error { return e.err }
