package session_test

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/functions/functionstest"
	"github.com/hangar-run/hangar/functions/session"
)

// downloadTars fetches GET /session/{name}/download and returns each part's tar entries:
// name → content for regular files, name → "-> target" for symbolic links, name → "dir" for
// directories.
func downloadTars(t *testing.T, env *functionstest.Env, name string, files ...string) []map[string]string {
	t.Helper()
	res := env.Do(t, http.MethodGet, "/session/"+name+"/download", map[string]any{"files": files}, &functionstest.User)
	res.RequireStatus(t, http.StatusOK)
	mt, params, err := mime.ParseMediaType(res.Header.Get("Content-Type"))
	require.NoError(t, err)
	require.Equal(t, "multipart/mixed", mt)
	mr := multipart.NewReader(bytes.NewReader(res.Body), params["boundary"])
	var out []map[string]string
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			return out
		}
		require.NoError(t, err)
		entries := map[string]string{}
		tr := tar.NewReader(part)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			require.NoError(t, err)
			switch h.Typeflag {
			case tar.TypeReg:
				b, err := io.ReadAll(tr)
				require.NoError(t, err)
				entries[h.Name] = string(b)
			case tar.TypeSymlink:
				entries[h.Name] = "-> " + h.Linkname
			case tar.TypeDir:
				entries[h.Name] = "dir"
			default:
				t.Fatalf("unexpected tar entry %s of type %c", h.Name, h.Typeflag)
			}
		}
		out = append(out, entries)
	}
}

// setDownloadLimit sets the download limit in the shared configuration and waits until the
// API sees it.
func setDownloadLimit(t *testing.T, env *functionstest.Env, v string) {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, env.Etcd.Put(ctx, session.DownloadMaxSizeKey, v))
	require.NoError(t, env.Shared.Sync(ctx))
}

// TestDownloadSparseFileRefused: a kernel's 32 GiB sparse file is refused by its apparent
// size before anything is read (it used to be read whole, which ran the agent out of
// memory), alone or in an archive, and the agent answers on.
func TestDownloadSparseFileRefused(t *testing.T) {
	t.Parallel()
	env, rs := newKernelEnv(t)
	r, _ := runToEnd(t, env, rs, "f = open('sparse.bin', 'wb'); f.truncate(32 << 30); f.close(); import os; os.mkdir('d'); os.symlink('../sparse.bin', 'd/link')")
	require.Equal(t, 0, *r.ExitCode)

	p := env.Do(t, http.MethodGet, "/session/"+rs.Name+"/download_single", map[string]any{"file": "sparse.bin"}, &functionstest.User).
		RequireProblem(t, http.StatusBadRequest, "invalid-api-params")
	require.Contains(t, p.Msg, "limit")
	require.Contains(t, p.Data, "file")
	p = env.Do(t, http.MethodGet, "/session/"+rs.Name+"/download", map[string]any{"files": []string{"sparse.bin"}}, &functionstest.User).
		RequireProblem(t, http.StatusBadRequest, "invalid-api-params")
	require.Contains(t, p.Data, "files")
	env.Do(t, http.MethodGet, "/session/"+rs.Name+"/download", map[string]any{"files": []string{"."}}, &functionstest.User).
		RequireProblem(t, http.StatusBadRequest, "invalid-api-params")
	// A symbolic link in a tree is archived as a link, never followed to its target.
	require.Equal(t, []map[string]string{{"link": "-> ../sparse.bin"}}, downloadTars(t, env, rs.Name, "d"))

	_, stdout := runToEnd(t, env, rs, "print('still here')")
	require.Equal(t, "still here\n", stdout)
}

// TestDownloadLimitConfigured: the limit comes from the shared configuration; for an
// archive it applies to the sum of the files.
func TestDownloadLimitConfigured(t *testing.T) {
	t.Parallel()
	env, rs := newKernelEnv(t)
	r, _ := runToEnd(t, env, rs, "import os; os.mkdir('d'); [open(n, 'wb').write(b'x' * s) for n, s in [('big', 2000), ('d/a', 600), ('d/b', 600)]]")
	require.Equal(t, 0, *r.ExitCode)
	env.Do(t, http.MethodGet, "/session/"+rs.Name+"/download_single", map[string]any{"file": "big"}, &functionstest.User).
		RequireStatus(t, http.StatusOK)

	setDownloadLimit(t, env, "1k")
	env.Do(t, http.MethodGet, "/session/"+rs.Name+"/download_single", map[string]any{"file": "big"}, &functionstest.User).
		RequireProblem(t, http.StatusBadRequest, "invalid-api-params")
	res := env.Do(t, http.MethodGet, "/session/"+rs.Name+"/download_single", map[string]any{"file": "d/a"}, &functionstest.User)
	res.RequireStatus(t, http.StatusOK)
	require.Equal(t, strings.Repeat("x", 600), string(res.Body))
	require.Equal(t, []map[string]string{{"a": strings.Repeat("x", 600)}}, downloadTars(t, env, rs.Name, "d/a"))
	env.Do(t, http.MethodGet, "/session/"+rs.Name+"/download", map[string]any{"files": []string{"d"}}, &functionstest.User).
		RequireProblem(t, http.StatusBadRequest, "invalid-api-params")
	env.Do(t, http.MethodGet, "/session/"+rs.Name+"/download", map[string]any{"files": []string{"d/a", "d/b"}}, &functionstest.User).
		RequireProblem(t, http.StatusBadRequest, "invalid-api-params")

	// An invalid setting falls back to the default.
	setDownloadLimit(t, env, "-5")
	env.Do(t, http.MethodGet, "/session/"+rs.Name+"/download", map[string]any{"files": []string{"d"}}, &functionstest.User).
		RequireStatus(t, http.StatusOK)
}

// TestDownloadStreams: a file of several chunks arrives whole with its length, and an
// archive holds regular files, directories and links, but no FIFO (reading one would block).
func TestDownloadStreams(t *testing.T) {
	t.Parallel()
	env, rs := newKernelEnv(t)
	const size = 5<<20 + 3
	r, _ := runToEnd(t, env, rs, "import os; os.mkdir('out'); open('out/big.bin', 'wb').write(bytes(range(256)) * ("+
		strconv.Itoa(size/256)+") + b'end'); os.mkfifo('out/fifo'); os.mkfifo('pipe'); os.symlink('big.bin', 'out/link')")
	require.Equal(t, 0, *r.ExitCode)
	want := append(bytes.Repeat(func() []byte {
		b := make([]byte, 256)
		for i := range b {
			b[i] = byte(i)
		}
		return b
	}(), size/256), "end"...)
	require.Len(t, want, size)

	res := env.Do(t, http.MethodGet, "/session/"+rs.Name+"/download_single", map[string]any{"file": "out/big.bin"}, &functionstest.User)
	res.RequireStatus(t, http.StatusOK)
	require.Equal(t, strconv.Itoa(size), res.Header.Get("Content-Length"))
	require.Equal(t, "application/octet-stream", res.Header.Get("Content-Type"))
	require.True(t, bytes.Equal(want, res.Body), "the file arrives whole")

	require.Equal(t, []map[string]string{
		{"big.bin": string(want), "link": "-> big.bin"},
		{"out/": "dir", "out/big.bin": string(want), "out/link": "-> big.bin"},
	}, downloadTars(t, env, rs.Name, "out", "/home/work"))

	// Only regular files are served.
	for _, f := range []string{"pipe", "out/fifo", "out"} {
		env.Do(t, http.MethodGet, "/session/"+rs.Name+"/download_single", map[string]any{"file": f}, &functionstest.User).
			RequireProblem(t, http.StatusBadRequest, "invalid-api-params")
	}
	env.Do(t, http.MethodGet, "/session/"+rs.Name+"/download", map[string]any{"files": []string{"pipe"}}, &functionstest.User).
		RequireProblem(t, http.StatusBadRequest, "invalid-api-params")
}

// TestFileMistakesAre4xx: the user's mistakes with paths answer 400 invalid-api-params
// naming the parameter, not 500 kernel-execution-failed.
func TestFileMistakesAre4xx(t *testing.T) {
	t.Parallel()
	env, rs := newKernelEnv(t)
	upload(t, env, rs.Name, &functionstest.User, uploadFile{"a", []byte("a")}, uploadFile{"dir/x", []byte("x")}).
		RequireStatus(t, http.StatusNoContent)
	for name, path := range map[string]string{
		"name over 255 bytes":  strings.Repeat("n", 256),
		"path over 4095 bytes": strings.Repeat("d/", 2048) + "x",
		"onto a directory":     "dir",
		"through a file":       "a/b",
	} {
		p := upload(t, env, rs.Name, &functionstest.User, uploadFile{path, []byte("x")}).
			RequireProblem(t, http.StatusBadRequest, "invalid-api-params")
		require.Contains(t, p.Data, "src", name)
	}
	upload(t, env, rs.Name, &functionstest.User, uploadFile{strings.Repeat("n", 255), []byte("x")}).
		RequireStatus(t, http.StatusNoContent)

	for name, body := range map[string]map[string]any{
		"a long name":          {"file": strings.Repeat("n", 256)},
		"a path through files": {"file": "a/b"},
		"a directory":          {"file": "dir"},
	} {
		p := env.Do(t, http.MethodGet, "/session/"+rs.Name+"/download_single", body, &functionstest.User).
			RequireProblem(t, http.StatusBadRequest, "invalid-api-params")
		require.Contains(t, p.Data, "file", name)
	}
	p := env.Do(t, http.MethodGet, "/session/"+rs.Name+"/files", map[string]any{"path": "a"}, &functionstest.User).
		RequireProblem(t, http.StatusBadRequest, "invalid-api-params")
	require.Contains(t, p.Data, "path")
	env.Do(t, http.MethodGet, "/session/"+rs.Name+"/files", map[string]any{"path": strings.Repeat("n", 256)}, &functionstest.User).
		RequireProblem(t, http.StatusBadRequest, "invalid-api-params")
	// A missing file stays a 404.
	env.Do(t, http.MethodGet, "/session/"+rs.Name+"/files", map[string]any{"path": "nope"}, &functionstest.User).
		RequireProblem(t, http.StatusNotFound, "object-not-found")
}

// TestExecuteMistakesAre4xx: batch options of the wrong type and a second run while one is
// going answer 400 invalid-api-params, not 500 kernel-execution-failed.
func TestExecuteMistakesAre4xx(t *testing.T) {
	t.Parallel()
	env, rs := newShellKernelEnv(t)
	for key, opts := range map[string]map[string]any{
		"options.exec":     {"exec": 1},
		"options.build":    {"build": []any{"make"}},
		"options.clean":    {"clean": map[string]any{}},
		"options.buildLog": {"buildLog": "yes"},
	} {
		p := env.Do(t, http.MethodPost, "/session/"+rs.Name, map[string]any{"mode": "batch", "runId": uuid.NewString(), "code": "", "options": opts},
			&functionstest.User).RequireProblem(t, http.StatusBadRequest, "invalid-api-params")
		require.Contains(t, p.Data, key)
	}

	first := uuid.NewString()
	r := execute(t, env, rs, map[string]any{"mode": "query", "runId": first, "code": "sleep 30"})
	require.Equal(t, "continued", r.Status)
	p := env.Do(t, http.MethodPost, "/session/"+rs.Name, map[string]any{"mode": "query", "runId": uuid.NewString(), "code": "echo hi"},
		&functionstest.User).RequireProblem(t, http.StatusBadRequest, "invalid-api-params")
	require.Contains(t, p.Msg, "still running")
	env.Do(t, http.MethodPost, "/session/"+rs.Name, map[string]any{"mode": "batch", "runId": uuid.NewString(), "code": "",
		"options": map[string]any{"exec": "echo hi"}}, &functionstest.User).RequireProblem(t, http.StatusBadRequest, "invalid-api-params")
	env.Do(t, http.MethodPost, "/session/"+rs.Name+"/interrupt", nil, &functionstest.User).RequireStatus(t, http.StatusNoContent)
}
