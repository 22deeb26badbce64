// Package registry scans container registries for Backend.AI images: it lists a registry's
// repositories and tags, resolves each tag to one image per architecture, reads the image
// configuration's ai.backend.* labels and reports the images a session may run, the ones it
// skipped (with the reason) and the ones it could not read (with the error). It does not
// touch the database: jobs/image stores a Result.
//
// # Protocol
//
// Registries of type docker (the default) are read over the Docker Registry HTTP API v2:
// GET /v2/_catalog (paged with Link headers) for the repositories, /v2/<repo>/tags/list
// for the tags, /v2/<repo>/manifests/<tag> for a manifest list, OCI index or single image
// manifest, the per-architecture manifests and the config blobs. Registries of type harbor2
// list their repositories per configured project with Harbor's v2.0 project API and are
// read over the v2 API for the rest. Docker Hub (a host ending in docker.io) cannot be
// scanned whole, only image by image.
//
// The HTTP side (authentication with basic credentials or the bearer-token flow, catalog
// and tag paging, media type negotiation, digest verification of blobs, retries of
// transient failures) is github.com/google/go-containerregistry's remote package: it is
// the client behind crane, ko and many other tools, follows the distribution and OCI specs
// closely, and one remote.Puller keeps the token of each repository between requests.
//
// # What an image is
//
// A tag that is a manifest list or OCI index yields one image per listed platform; entries
// annotated vnd.docker.reference.type (build attestations) and unknown or non-Linux
// platforms are left out. A tag that is a plain single-architecture manifest yields one
// image with the architecture of its config (Backend.AI's scanner rejects such tags on
// plain v2 registries; this one reads them). Architectures are normalized (amd64 →
// x86_64, arm64 → aarch64). An image's size is the sum of its layer sizes and its config
// size, its digest is the config digest, and its resources start at cpu min 1 and mem min
// 1g, raised by ai.backend.resource.min.<slot> labels. Images whose labels fail
// ValidateLabels (no ai.backend.kernelspec, say) are skipped with the reason.
//
// # Failures
//
// A failure to reach or authenticate to the registry, or to list its catalog, fails the
// scan. A failure on one repository or tag (401, a timeout, a bad manifest) is recorded in
// Result.Errors and the scan goes on; a tag that vanished between listing and reading (404)
// is simply absent. Result says which repositories and tags were read completely, so that
// a caller can tell images that disappeared from images that could not be checked.
package registry
