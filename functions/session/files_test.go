package session_test

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/functions/functionstest"
	"github.com/hangar-run/hangar/internal/auth"
)

// uploadFile is one file of a test upload.
type uploadFile struct {
	name string
	data []byte
}

// upload posts files as multipart/form-data (field src, filename = destination) signed with
// creds, the way the client does: the signature covers the media type without the boundary.
func upload(t *testing.T, env *functionstest.Env, session string, creds *auth.Credentials, files ...uploadFile) *functionstest.Response {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, f := range files {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="src"; filename=%q`, f.name))
		h.Set("Content-Type", "application/octet-stream")
		w, err := mw.CreatePart(h)
		require.NoError(t, err)
		_, err = w.Write(f.data)
		require.NoError(t, err)
	}
	require.NoError(t, mw.Close())
	headers := []string{"Content-Type: " + mw.FormDataContentType()}
	if creds == nil {
		// Unsigned, but dated: the request reaches the signature check.
		headers = append(headers, "Date: "+env.Clock.Now().UTC().Format(http.TimeFormat))
	}
	return env.Do(t, http.MethodPost, "/session/"+session+"/upload", buf.Bytes(), creds, headers...)
}

// listEntry is one decoded entry of a listing's files string.
type listEntry struct {
	Filename string  `json:"filename"`
	Size     int64   `json:"size"`
	Mode     string  `json:"mode"`
	Mtime    float64 `json:"mtime"`
	Atime    float64 `json:"atime"`
	Ctime    float64 `json:"ctime"`
}

// listFiles lists a directory of session (the query string, if any, follows the name) and
// decodes the answer.
func listFiles(t *testing.T, env *functionstest.Env, session string, body any) (map[string]listEntry, string) {
	t.Helper()
	name, query, _ := strings.Cut(session, "?")
	if query != "" {
		query = "?" + query
	}
	res := env.Do(t, http.MethodGet, "/session/"+name+"/files"+query, body, &functionstest.User)
	res.RequireStatus(t, http.StatusOK)
	var out struct {
		Files   string   `json:"files"`
		Errors  []string `json:"errors"`
		AbsPath string   `json:"abspath"`
	}
	res.JSON(t, &out)
	require.Empty(t, out.Errors)
	var entries []listEntry
	require.NoError(t, json.Unmarshal([]byte(out.Files), &entries), "files is a JSON string: %s", out.Files)
	m := map[string]listEntry{}
	for _, e := range entries {
		m[e.Filename] = e
	}
	return m, out.AbsPath
}

func TestUploadListDownload(t *testing.T) {
	t.Parallel()
	env, rs := newKernelEnv(t)
	hello := []byte("hello, kernel\n")
	data := bytes.Repeat([]byte{0, 1, 2, 0xff}, 1000)
	upload(t, env, rs.Name, &functionstest.User,
		uploadFile{"hello.txt", hello}, uploadFile{"sub/dir/data.bin", data}).RequireStatus(t, http.StatusNoContent)

	// The kernel sees the files in its working directory.
	r, stdout := runToEnd(t, env, rs, "print(open('sub/dir/data.bin','rb').read() == bytes([0,1,2,255])*1000, open('hello.txt').read(), end='')")
	require.Equal(t, 0, *r.ExitCode)
	require.Equal(t, "True hello, kernel\n", stdout)

	files, abspath := listFiles(t, env, rs.Name, nil)
	require.Equal(t, "/home/work", abspath)
	require.Contains(t, files, "hello.txt")
	require.Equal(t, int64(len(hello)), files["hello.txt"].Size)
	require.Equal(t, "-rw-r--r--", files["hello.txt"].Mode)
	require.Positive(t, files["hello.txt"].Mtime)
	require.Positive(t, files["hello.txt"].Atime)
	require.Positive(t, files["hello.txt"].Ctime)
	require.Equal(t, "drwxr-xr-x", files["sub"].Mode)

	// A sub-directory, by JSON body or query string.
	files, abspath = listFiles(t, env, rs.Name, map[string]any{"path": "sub/dir"})
	require.Equal(t, "/home/work/sub/dir", abspath)
	require.Equal(t, []string{"data.bin"}, keys(files))
	require.Equal(t, int64(len(data)), files["data.bin"].Size)
	files, _ = listFiles(t, env, rs.Name+"?path=sub", nil)
	require.Equal(t, []string{"dir"}, keys(files))

	res := env.Do(t, http.MethodGet, "/session/"+rs.Name+"/download_single", map[string]any{"file": "sub/dir/data.bin"}, &functionstest.User)
	res.RequireStatus(t, http.StatusOK)
	require.Equal(t, "application/octet-stream", res.Header.Get("Content-Type"))
	require.Equal(t, data, res.Body)

	// download answers multipart/mixed, one tar archive per path, in order.
	res = env.Do(t, http.MethodGet, "/session/"+rs.Name+"/download", map[string]any{"files": []string{"hello.txt", "sub"}}, &functionstest.User)
	res.RequireStatus(t, http.StatusOK)
	mt, params, err := mime.ParseMediaType(res.Header.Get("Content-Type"))
	require.NoError(t, err)
	require.Equal(t, "multipart/mixed", mt)
	mr := multipart.NewReader(bytes.NewReader(res.Body), params["boundary"])
	var archives []map[string][]byte
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		require.Equal(t, "application/octet-stream", part.Header.Get("Content-Type"))
		archives = append(archives, untar(t, part))
	}
	require.Equal(t, []map[string][]byte{
		{"hello.txt": hello},
		{"dir/data.bin": data},
	}, archives)
}

// keys returns m's keys, sorted.
func keys(m map[string]listEntry) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// untar returns the regular files of a tar archive.
func untar(t *testing.T, r io.Reader) map[string][]byte {
	t.Helper()
	tr := tar.NewReader(r)
	out := map[string][]byte{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		require.NoError(t, err)
		if h.Typeflag != tar.TypeReg {
			continue
		}
		b, err := io.ReadAll(tr)
		require.NoError(t, err)
		out[strings.TrimPrefix(h.Name, "./")] = b
	}
}

func TestUploadLimits(t *testing.T) {
	t.Parallel()
	env, rs := newKernelEnv(t)
	many := make([]uploadFile, 21)
	for i := range many {
		many[i] = uploadFile{fmt.Sprintf("f%d.txt", i), []byte("x")}
	}
	p := upload(t, env, rs.Name, &functionstest.User, many...).RequireProblem(t, http.StatusBadRequest, "invalid-api-params")
	require.Contains(t, p.Msg, "at most 20")
	// Twenty is fine.
	upload(t, env, rs.Name, &functionstest.User, many[:20]...).RequireStatus(t, http.StatusNoContent)

	p = upload(t, env, rs.Name, &functionstest.User, uploadFile{"ok.txt", []byte("ok")},
		uploadFile{"big.bin", make([]byte, 1<<20)}).RequireProblem(t, http.StatusBadRequest, "invalid-api-params")
	require.Contains(t, p.Msg, "1 MiB")
	// Just below the limit passes.
	upload(t, env, rs.Name, &functionstest.User, uploadFile{"almost.bin", make([]byte, 1<<20-1)}).RequireStatus(t, http.StatusNoContent)
	files, _ := listFiles(t, env, rs.Name, nil)
	require.NotContains(t, files, "ok.txt", "a rejected upload writes nothing")
	require.NotContains(t, files, "f20.txt")
	require.Contains(t, files, "f19.txt")
	require.Equal(t, int64(1<<20-1), files["almost.bin"].Size)

	// Not multipart, or no files in src.
	env.Do(t, http.MethodPost, "/session/"+rs.Name+"/upload", []byte(`{}`), &functionstest.User).
		RequireProblem(t, http.StatusBadRequest, "invalid-api-params")
	upload(t, env, rs.Name, &functionstest.User).RequireProblem(t, http.StatusBadRequest, "invalid-api-params")

	// Too many downloads at once.
	env.Do(t, http.MethodGet, "/session/"+rs.Name+"/download",
		map[string]any{"files": []string{"f1.txt", "f2.txt", "f3.txt", "f4.txt", "f5.txt", "f6.txt"}}, &functionstest.User).
		RequireProblem(t, http.StatusBadRequest, "invalid-api-params")
}

func TestFilesPathTraversal(t *testing.T) {
	t.Parallel()
	env, rs := newKernelEnv(t)
	upload(t, env, rs.Name, &functionstest.User, uploadFile{"../escape.txt", []byte("x")}).
		RequireProblem(t, http.StatusBadRequest, "invalid-api-params")
	upload(t, env, rs.Name, &functionstest.User, uploadFile{"/etc/passwd", []byte("x")}).
		RequireProblem(t, http.StatusBadRequest, "invalid-api-params")
	env.Do(t, http.MethodGet, "/session/"+rs.Name+"/download_single", map[string]any{"file": "../../../../etc/passwd"}, &functionstest.User).
		RequireProblem(t, http.StatusBadRequest, "invalid-api-params")
	env.Do(t, http.MethodGet, "/session/"+rs.Name+"/download", map[string]any{"files": []string{"a/../../x"}}, &functionstest.User).
		RequireProblem(t, http.StatusBadRequest, "invalid-api-params")
	env.Do(t, http.MethodGet, "/session/"+rs.Name+"/files", map[string]any{"path": ".."}, &functionstest.User).
		RequireProblem(t, http.StatusBadRequest, "invalid-api-params")

	// A symlink out of the working directory does not lead out either.
	r, _ := runToEnd(t, env, rs, "import os; os.symlink('/etc', 'etc')")
	require.Equal(t, 0, *r.ExitCode)
	env.Do(t, http.MethodGet, "/session/"+rs.Name+"/download_single", map[string]any{"file": "etc/hostname"}, &functionstest.User).
		RequireProblem(t, http.StatusBadRequest, "invalid-api-params")

	// A missing file is a 404.
	env.Do(t, http.MethodGet, "/session/"+rs.Name+"/download_single", map[string]any{"file": "nope.txt"}, &functionstest.User).
		RequireProblem(t, http.StatusNotFound, "object-not-found")
}

func TestFilesLookupAndAuth(t *testing.T) {
	t.Parallel()
	env, rs := newKernelEnv(t)
	// Another user's session does not exist for the caller; unsigned requests are refused.
	upload(t, env, rs.Name, &functionstest.User2, uploadFile{"a.txt", []byte("a")}).
		RequireProblem(t, http.StatusNotFound, "object-not-found")
	upload(t, env, rs.Name, nil, uploadFile{"a.txt", []byte("a")}).
		RequireProblem(t, http.StatusUnauthorized, "auth-failed")
	env.Do(t, http.MethodGet, "/session/"+rs.Name+"/files", nil, &functionstest.User2).
		RequireProblem(t, http.StatusNotFound, "object-not-found")
	env.Do(t, http.MethodGet, "/session/no-such/download_single", map[string]any{"file": "a"}, &functionstest.User).
		RequireProblem(t, http.StatusNotFound, "object-not-found")
	env.Do(t, http.MethodGet, "/session/"+rs.Name+"/download_single", map[string]any{}, &functionstest.User).
		RequireProblem(t, http.StatusBadRequest, "invalid-api-params")
}
