package userconfig_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"strings"
	"testing"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/functions/functionstest"
	"github.com/hangar-run/hangar/internal/agentrpc"
	"github.com/hangar-run/hangar/internal/fixture"
)

type entry struct {
	Path       string `json:"path"`
	Permission string `json:"permission"`
	Data       string `json:"data"`
}

// TestUserDotfilesCRUD walks a keypair's dotfile through create, list, lookup, update and
// delete with Backend.AI's answers, and checks owner_access_key scoping.
func TestUserDotfilesCRUD(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t)
	u := &functionstest.User
	env.Do(t, "POST", "/user-config/dotfiles", map[string]any{"path": ".bashrc", "permission": "644", "data": "alias ll='ls -l'"}, u).RequireStatus(t, 200)
	env.Do(t, "POST", "/user-config/dotfiles", map[string]any{"path": ".bashrc", "permission": "644", "data": "x"}, u).
		RequireProblem(t, 400, "generic-bad-request")

	var list []entry
	env.Do(t, "GET", "/user-config/dotfiles", nil, u).JSON(t, &list)
	require.Equal(t, []entry{{".bashrc", "644", "alias ll='ls -l'"}}, list)

	var one map[string]string
	env.Do(t, "GET", "/user-config/dotfiles?path=.bashrc", nil, u).JSON(t, &one)
	require.Equal(t, map[string]string{"path": ".bashrc", "perm": "644", "data": "alias ll='ls -l'"}, one)
	env.Do(t, "GET", "/user-config/dotfiles?path=.nope", nil, u).RequireProblem(t, 404, "object-not-found")

	env.Do(t, "PATCH", "/user-config/dotfiles", map[string]any{"path": ".bashrc", "permission": "600", "data": "new"}, u).RequireStatus(t, 200)
	env.Do(t, "PATCH", "/user-config/dotfiles", map[string]any{"path": ".other", "permission": "600", "data": "new"}, u).
		RequireProblem(t, 404, "object-not-found")
	env.Do(t, "GET", "/user-config/dotfiles", nil, u).JSON(t, &list)
	require.Equal(t, []entry{{".bashrc", "600", "new"}}, list)

	// Another user's keypair: admins of the domain only.
	env.Do(t, "POST", "/user-config/dotfiles", map[string]any{"path": ".x", "permission": "644", "data": "x",
		"owner_access_key": functionstest.User2.AccessKey}, u).RequireProblem(t, 403, "generic-forbidden")
	env.Do(t, "POST", "/user-config/dotfiles", map[string]any{"path": ".x", "permission": "644", "data": "x",
		"owner_access_key": functionstest.User2.AccessKey}, &functionstest.DomainAdmin).RequireStatus(t, 200)
	env.Do(t, "GET", "/user-config/dotfiles", nil, &functionstest.User2).JSON(t, &list)
	require.Equal(t, []entry{{".x", "644", "x"}}, list)

	var del map[string]bool
	env.Do(t, "DELETE", "/user-config/dotfiles", map[string]any{"path": ".bashrc"}, u).JSON(t, &del)
	require.Equal(t, map[string]bool{"success": true}, del)
	env.Do(t, "DELETE", "/user-config/dotfiles", map[string]any{"path": ".bashrc"}, u).RequireProblem(t, 404, "object-not-found")
}

// TestDotfileHostileInput proves bad input is a clear 4xx and leaves nothing behind: path
// traversal, absolute and reserved paths, bad permissions, a dotfile over 64 KiB, more than
// 100 dotfiles, a list packing over 64 KiB, and a corrupt stored list.
func TestDotfileHostileInput(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t)
	u := &functionstest.User
	post := func(body map[string]any) *functionstest.Response {
		return env.Do(t, "POST", "/user-config/dotfiles", body, u)
	}
	for _, p := range []string{"../escape", "a/../../b", "/etc/passwd", "", ".", "a//b", ".ssh", ".ssh/authorized_keys", "a\x00b", strings.Repeat("a", 300)} {
		res := post(map[string]any{"path": p, "permission": "644", "data": "x"})
		require.Equal(t, 400, res.Status, "path %q: %s", p, res.Body)
		require.Equal(t, "https://api.backend.ai/probs/invalid-api-params", res.Problem(t).Type, p)
	}
	for _, perm := range []string{"888", "7777", "rw-", "", "64"} {
		post(map[string]any{"path": ".p", "permission": perm, "data": "x"}).RequireProblem(t, 400, "invalid-api-params")
	}
	post(map[string]any{"path": ".p", "permission": "644"}).RequireProblem(t, 400, "invalid-api-params")
	post(map[string]any{"path": ".big", "permission": "644", "data": strings.Repeat("x", 64*1024+1)}).RequireProblem(t, 400, "invalid-api-params")

	// 100 small dotfiles fit; the 101st is refused.
	for i := range 100 {
		post(map[string]any{"path": fmt.Sprintf(".f%03d", i), "permission": "644", "data": "x"}).RequireStatus(t, 200)
	}
	post(map[string]any{"path": ".f100", "permission": "644", "data": "x"}).RequireProblem(t, 400, "generic-bad-request")

	// Two 40 KiB dotfiles do not pack into 64 KiB.
	u2 := &functionstest.User2
	big := strings.Repeat("y", 40*1024)
	env.Do(t, "POST", "/user-config/dotfiles", map[string]any{"path": ".a", "permission": "644", "data": big}, u2).RequireStatus(t, 200)
	p := env.Do(t, "POST", "/user-config/dotfiles", map[string]any{"path": ".b", "permission": "644", "data": big}, u2).RequireProblem(t, 400, "generic-bad-request")
	require.Equal(t, "No leftover space for dotfile storage", p.Msg)
	var list []entry
	env.Do(t, "GET", "/user-config/dotfiles", nil, u2).JSON(t, &list)
	require.Len(t, list, 1)

	// A corrupt stored list is a 400 on every route, and is not overwritten.
	_, err := env.DB.Pool.Exec(context.Background(), `UPDATE keypairs SET dotfiles = $2 WHERE access_key = $1`, u2.AccessKey, []byte{0xc1, 0xff})
	require.NoError(t, err)
	env.Do(t, "GET", "/user-config/dotfiles", nil, u2).RequireProblem(t, 400, "generic-bad-request")
	env.Do(t, "POST", "/user-config/dotfiles", map[string]any{"path": ".c", "permission": "644", "data": "x"}, u2).RequireProblem(t, 400, "generic-bad-request")
	env.Do(t, "DELETE", "/user-config/dotfiles", map[string]any{"path": ".a"}, u2).RequireProblem(t, 400, "generic-bad-request")
	var raw []byte
	require.NoError(t, env.DB.Pool.QueryRow(context.Background(), `SELECT dotfiles FROM keypairs WHERE access_key = $1`, u2.AccessKey).Scan(&raw))
	require.Equal(t, []byte{0xc1, 0xff}, raw)
}

// TestGroupAndDomainDotfiles checks who may write and read project and domain dotfiles.
func TestGroupAndDomainDotfiles(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t)
	body := map[string]any{"group": fixture.DefaultProjectID, "path": ".gitconfig", "permission": "644", "data": "[user]"}
	env.Do(t, "POST", "/group-config/dotfiles", body, &functionstest.User).RequireProblem(t, 401, "auth-failed")
	env.Do(t, "POST", "/group-config/dotfiles", body, &functionstest.DomainAdmin).RequireStatus(t, 200)
	var list []entry
	env.Do(t, "GET", "/group-config/dotfiles?group=default&domain=default", nil, &functionstest.User).JSON(t, &list)
	require.Equal(t, []entry{{".gitconfig", "644", "[user]"}}, list)
	env.Do(t, "GET", "/group-config/dotfiles?group=default", nil, &functionstest.User).RequireProblem(t, 400, "invalid-api-params")
	env.Do(t, "GET", "/group-config/dotfiles?group=nope&domain=default", nil, &functionstest.User).RequireProblem(t, 404, "object-not-found")

	env.Do(t, "POST", "/domain-config/dotfiles", map[string]any{"domain": "default", "path": ".profile", "permission": "644", "data": "d"},
		&functionstest.DomainAdmin).RequireStatus(t, 200)
	env.Do(t, "GET", "/domain-config/dotfiles?domain=default", nil, &functionstest.User).JSON(t, &list)
	require.Equal(t, []entry{{".profile", "644", "d"}}, list)
	env.Do(t, "GET", "/domain-config/dotfiles?domain=other", nil, &functionstest.User).RequireProblem(t, 403, "generic-forbidden")
	env.Do(t, "DELETE", "/domain-config/dotfiles", map[string]any{"domain": "default", "path": ".profile"}, &functionstest.DomainAdmin).RequireStatus(t, 200)
}

// TestDotfilesReachKernelHome is the whole path: dotfiles of the keypair, the project and the
// domain (with a path clash, which the keypair's wins) and the keypair's bootstrap script are
// set through the API, a session is created, its kernel rows carry the merged list, and the
// agent's process runtime, given the kernel config the start job builds from those rows,
// writes the files with their permissions into the kernel's home and runs the script there.
func TestDotfilesReachKernelHome(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t)
	ctx := context.Background()
	_, err := env.DB.Pool.Exec(ctx, `INSERT INTO images (name, image, tag, registry, architecture, resources)
		VALUES ('cr.backend.ai/stable/ubuntu:22.04', 'stable/ubuntu', '22.04', 'cr.backend.ai', $1, '{"cpu":{"min":"1"},"mem":{"min":"256m"}}')`,
		functionstest.HostArch())
	require.NoError(t, err)
	_, rt := env.StartAgent(t, "i-dot", nopEnqueuer{})
	u := &functionstest.User
	env.Do(t, "POST", "/user-config/dotfiles", map[string]any{"path": ".config.d/tool.conf", "permission": "600", "data": "mine"}, u).RequireStatus(t, 200)
	env.Do(t, "POST", "/user-config/dotfiles", map[string]any{"path": ".shared", "permission": "644", "data": "keypair"}, u).RequireStatus(t, 200)
	env.Do(t, "POST", "/group-config/dotfiles", map[string]any{"group": fixture.DefaultProjectID, "path": ".shared", "permission": "644", "data": "project"},
		&functionstest.DomainAdmin).RequireStatus(t, 200)
	env.Do(t, "POST", "/domain-config/dotfiles", map[string]any{"domain": "default", "path": ".domainrc", "permission": "640", "data": "domain"},
		&functionstest.DomainAdmin).RequireStatus(t, 200)
	env.Do(t, "POST", "/user-config/bootstrap-script", map[string]any{"script": "  echo booted > \"$HOME/boot.out\"\n"}, u).RequireStatus(t, 200)
	var script string
	env.Do(t, "GET", "/user-config/bootstrap-script", nil, u).JSON(t, &script)
	require.Equal(t, `echo booted > "$HOME/boot.out"`, script)

	res := env.Do(t, "POST", "/session", map[string]any{"name": "dots", "image": "cr.backend.ai/stable/ubuntu:22.04", "enqueueOnly": true}, u)
	res.RequireStatus(t, 201)
	var created struct {
		SessionID string `json:"sessionId"`
	}
	res.JSON(t, &created)

	var kid string
	var internal json.RawMessage
	var bootstrap *string
	require.NoError(t, env.DB.Pool.QueryRow(ctx, `SELECT id::text, internal_data, bootstrap_script FROM kernels WHERE session_id = $1`,
		created.SessionID).Scan(&kid, &internal, &bootstrap))
	cfg := agentrpc.KernelConfig{KernelID: kid, SessionID: created.SessionID, SessionType: "interactive",
		Image:         agentrpc.ImageRef{Canonical: "cr.backend.ai/stable/ubuntu:22.04", Architecture: functionstest.HostArch()},
		ResourceSlots: map[string]string{"cpu": "1", "mem": "268435456"}, Environ: map[string]string{}}
	require.NoError(t, json.Unmarshal(internal, &cfg.InternalData)) // as the start job does
	require.NotNil(t, bootstrap)
	cfg.BootstrapScript = *bootstrap
	_, err = rt.CreateKernel(ctx, &cfg)
	require.NoError(t, err)

	want := map[string]struct {
		data string
		perm os.FileMode
	}{
		".config.d/tool.conf": {"mine", 0o600}, ".shared": {"keypair", 0o644}, ".domainrc": {"domain", 0o640}, "boot.out": {"booted\n", 0},
	}
	// The bootstrap script has run when the create returns.
	for p, w := range want {
		got, err := rt.ReadFile(ctx, &agentrpc.ReadFileRequest{KernelID: kid, Path: p})
		require.NoError(t, err, p)
		require.Equal(t, w.data, string(got.Data), p)
		if w.perm == 0 {
			continue
		}
		ls, err := rt.ListFiles(ctx, kid, path.Dir(p))
		require.NoError(t, err)
		found := false
		for _, f := range ls.Files {
			if f.Name == path.Base(p) {
				found = true
				require.Equal(t, w.perm, os.FileMode(f.Mode).Perm(), p)
			}
		}
		require.True(t, found, p)
	}
}

type nopEnqueuer struct{}

func (nopEnqueuer) Enqueue(context.Context, *asynq.Task, ...asynq.Option) (*asynq.TaskInfo, error) {
	return &asynq.TaskInfo{}, nil
}
