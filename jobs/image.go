package jobs

import (
	"time"

	"github.com/hibiken/asynq"
)

// TypeImageRescan rescans container registries (config/docker/registry in the shared
// configuration) and updates the images table: new images are added, changed ones updated
// and vanished ones marked missing. Handled by jobs/image.
const TypeImageRescan = "image:rescan"

// ImageRescanIntervalKey is the shared-config key of the periodic rescan's period (a
// duration, e.g. "1h" or "30m"); DefaultImageRescanEvery when absent, and "0" turns the
// periodic rescan off.
const ImageRescanIntervalKey = "config/hangar/periodic/image-rescan/interval"

// DefaultImageRescanEvery is the periodic rescan's default period.
const DefaultImageRescanEvery = time.Hour

// ImageRescanPayload is the payload of a TypeImageRescan task.
type ImageRescanPayload struct {
	// Target is what to rescan: "" for every configured registry, a registry name, or
	// REGISTRY/REPOSITORY[:TAG] for one repository or tag.
	Target string `json:"target,omitempty"`
	// Slot is the period's start for a periodic rescan; nil when asked for.
	Slot *time.Time `json:"slot,omitempty"`
}

// NewImageRescanTask returns a TypeImageRescan task for p with TaskID
// "image:rescan:<target>" ("*" for all registries), so that a rescan asked for while the
// same one is still queued or running is reported as a duplicate instead of queued twice.
func NewImageRescanTask(p ImageRescanPayload, opts ...asynq.Option) (*asynq.Task, error) {
	all := append([]asynq.Option{asynq.TaskID(ImageRescanTaskID(p.Target))}, opts...)
	return newTask(TypeImageRescan, p, all...)
}

// ImageRescanTaskID returns the TaskID NewImageRescanTask gives a rescan of target.
func ImageRescanTaskID(target string) string {
	if target == "" {
		target = "*"
	}
	return TypeImageRescan + ":" + target
}
