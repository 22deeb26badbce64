package cache

import (
	"context"
	"log/slog"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hangar-run/hangar/internal/db"
)

// Listen keeps c in step with the database until ctx ends: it LISTENs on NotifyChannel over one
// dedicated connection (db.Listener, reconnecting with backoff), drops the entries read from
// each table a notification names, and flushes everything whenever the connection is made
// or lost, since notifications may have been missed in between. Run it in its own goroutine.
func Listen(ctx context.Context, c *Cache, pool *pgxpool.Pool, logger *slog.Logger) {
	db.Listener{
		Channel: NotifyChannel,
		Notify:  c.Invalidate,
		Synced:  c.Flush,
		Lost:    c.Flush,
		Logger:  logger,
	}.Listen(ctx, pool)
}
