package stacktest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/internal/db"
)

// TestPrivateServicesRestart starts a private PostgreSQL and Redis, stops and restarts each,
// and checks what survives: PostgreSQL keeps committed rows across a crash stop, Redis
// comes back empty, both on the same port and requiring their passwords.
func TestPrivateServicesRestart(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	pg := StartPostgres(t)
	d := pg.NewDatabase(t, "restart")
	_, err := d.Pool.Exec(ctx, `CREATE TABLE kept (v int); INSERT INTO kept VALUES (7)`)
	require.NoError(t, err)
	pg.Stop(t)
	require.Error(t, d.Pool.Ping(ctx))
	pg.Start(t)
	var v int
	Eventually(t, 10*time.Second, func() (bool, string) {
		err := d.Pool.QueryRow(ctx, `SELECT v FROM kept`).Scan(&v)
		return err == nil, fmt.Sprint(err)
	})
	require.Equal(t, 7, v)
	wrong := pg.URL("restart")
	wrong = wrong[:len("postgres://postgres:")] + "x" + wrong[len("postgres://postgres:"):]
	_, err = db.Open(ctx, wrong)
	require.Error(t, err, "a wrong password is refused")

	r := StartRedis(t)
	c := r.Client()
	defer c.Close()
	require.NoError(t, c.Set(ctx, "k", "v", 0).Err())
	r.Stop(t)
	require.Error(t, c.Ping(ctx).Err())
	r.Start(t)
	require.NoError(t, c.Ping(ctx).Err())
	require.Equal(t, int64(0), c.Exists(ctx, "k").Val(), "nothing persists")
	anon := redis.NewClient(&redis.Options{Addr: r.Addr()})
	defer anon.Close()
	require.Error(t, anon.Ping(ctx).Err(), "the password is required")
}
