package image_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/functions/functionstest"
)

func TestAliasNames(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t)
	_, err := env.DB.Pool.Exec(context.Background(), `DELETE FROM images;
		INSERT INTO images (name, image, tag, registry, architecture, config_digest, size_bytes, labels, resources)
		VALUES ('r/a/b:1', 'a/b', '1', 'r', 'x86_64', 'sha256:aa', 10, '{}', '{}')`)
	require.NoError(t, err)
	sa := &functionstest.Superadmin
	for _, alias := range []string{"../../a/b\\c", "' OR '1'='1", "a\tb", "a b", "a//b", "/a", "a/", "a/../b", ".py", "py\x7f"} {
		p := env.Do(t, http.MethodPost, "/admin/images/aliases", map[string]any{"alias": alias, "target": "r/a/b:1"}, sa).
			RequireProblem(t, http.StatusBadRequest, "invalid-api-params")
		require.Contains(t, p.Data, "alias", "%q", alias)
	}
	for _, alias := range []string{"python", "python:3.11", "team/py-3.11_x"} {
		env.Do(t, http.MethodPost, "/admin/images/aliases", map[string]any{"alias": alias, "target": "r/a/b:1"}, sa).RequireStatus(t, http.StatusCreated)
	}
	var n int
	require.NoError(t, env.DB.Pool.QueryRow(context.Background(), `SELECT count(*) FROM image_aliases`).Scan(&n))
	require.Equal(t, 3, n)
}
