// Package migrations holds Hangar's numbered SQL migrations (goose format). They are both the
// schema that `hangar schema oneshot` applies and the schema sqlc reads.
package migrations

import "embed"

// FS holds every migration file.
//
//go:embed *.sql
var FS embed.FS //nolint:gochecknoglobals
