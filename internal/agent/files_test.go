package agent

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/internal/agentrpc"
)

// fileKernel creates a shell kernel named id and returns its working directory on the host,
// where a test plays the kernel writing files.
func fileKernel(ctx context.Context, t *testing.T, rt *ProcessRuntime, id string) string {
	t.Helper()
	_, err := rt.CreateKernel(ctx, &agentrpc.KernelConfig{KernelID: id, SessionID: "s", Image: shellImage})
	require.NoError(t, err)
	k, err := rt.kernel(id)
	require.NoError(t, err)
	return k.work
}

// remoteErr returns err's RemoteError, failing the test when there is none.
func remoteErr(t *testing.T, err error) *agentrpc.RemoteError {
	t.Helper()
	var re *agentrpc.RemoteError
	require.ErrorAs(t, err, &re)
	return re
}

// readAll reads a file through ReadFile chunk by chunk, checking that no chunk exceeds
// agentrpc.MaxChunk, and returns the content and the number of chunks.
func readAll(ctx context.Context, t *testing.T, rt Runtime, kernelID, p string) ([]byte, int) {
	t.Helper()
	var out []byte
	for n := 1; ; n++ {
		rep, err := rt.ReadFile(ctx, &agentrpc.ReadFileRequest{KernelID: kernelID, Path: p, Offset: int64(len(out))})
		require.NoError(t, err)
		require.LessOrEqual(t, len(rep.Data), agentrpc.MaxChunk)
		out = append(out, rep.Data...)
		if rep.EOF {
			return out, n
		}
		require.NotEmpty(t, rep.Data, "a chunk that is not the last carries data")
	}
}

func TestProcessFiles(t *testing.T) {
	ctx := testCtx(t)
	rt := newProcessRuntime(t)
	fileKernel(ctx, t, rt, "kf")

	require.NoError(t, rt.UploadFile(ctx, "kf", "data/a.txt", []byte("hello")))
	require.NoError(t, rt.UploadFile(ctx, "kf", "/home/work/data/b.txt", []byte("hi")))
	// The kernel sees the files in its working directory.
	console, _ := execute(ctx, t, rt, "kf", "cat data/a.txt")
	require.Equal(t, "hello", text(console, "stdout"))
	// A second upload replaces the file.
	require.NoError(t, rt.UploadFile(ctx, "kf", "data/b.txt", []byte("hi!")))

	ls, err := rt.ListFiles(ctx, "kf", "data")
	require.NoError(t, err)
	require.Equal(t, "/home/work/data", ls.AbsPath)
	require.Len(t, ls.Files, 2, "no temporary file is left behind")
	require.Equal(t, "a.txt", ls.Files[0].Name)
	require.Equal(t, int64(5), ls.Files[0].Size)
	require.False(t, ls.Files[0].IsDir)
	root, err := rt.ListFiles(ctx, "kf", "")
	require.NoError(t, err)
	require.Len(t, root.Files, 1)
	require.True(t, root.Files[0].IsDir)

	b, _ := readAll(ctx, t, rt, "kf", "data/a.txt")
	require.Equal(t, "hello", string(b))
	one, err := rt.WalkFiles(ctx, &agentrpc.WalkFilesRequest{KernelID: "kf", Path: "data/a.txt"})
	require.NoError(t, err)
	require.Len(t, one.Entries, 1)
	require.Equal(t, "a.txt", one.Entries[0].Name)
	require.Equal(t, "data/a.txt", one.Entries[0].Path)
	require.Equal(t, int64(5), one.TotalSize)
	tree, err := rt.WalkFiles(ctx, &agentrpc.WalkFilesRequest{KernelID: "kf", Path: "/home/work", Recursive: true})
	require.NoError(t, err)
	var names []string
	for _, e := range tree.Entries {
		names = append(names, e.Name)
	}
	require.Equal(t, []string{"data", "data/a.txt", "data/b.txt"}, names, "parents first, by name")
	require.Equal(t, int64(8), tree.TotalSize)

	_, err = rt.ReadFile(ctx, &agentrpc.ReadFileRequest{KernelID: "kf", Path: "data/none"})
	re := remoteErr(t, err)
	require.Equal(t, agentrpc.KindNotFound, re.Kind)
	require.Equal(t, "path", re.Field, "a missing file is told from a missing kernel")
	_, err = rt.ReadFile(ctx, &agentrpc.ReadFileRequest{KernelID: "nope", Path: "data/a.txt"})
	require.ErrorIs(t, err, ErrKernelNotFound)

	// Paths leaving the working directory are refused, symlinks included.
	for _, p := range []string{"../kernel.log", "/etc/passwd", "data/../../x"} {
		re = remoteErr(t, rt.UploadFile(ctx, "kf", p, []byte("x")))
		require.Equal(t, agentrpc.KindInvalidInput, re.Kind, p)
		_, err = rt.ReadFile(ctx, &agentrpc.ReadFileRequest{KernelID: "kf", Path: p})
		require.Equal(t, agentrpc.KindInvalidInput, remoteErr(t, err).Kind, p)
		_, err = rt.WalkFiles(ctx, &agentrpc.WalkFilesRequest{KernelID: "kf", Path: p, Recursive: true})
		require.Equal(t, agentrpc.KindInvalidInput, remoteErr(t, err).Kind, p)
	}
	_, exit := execute(ctx, t, rt, "kf", "ln -s .. up && ln -s /etc etc")
	require.Equal(t, 0, exit)
	_, err = rt.ReadFile(ctx, &agentrpc.ReadFileRequest{KernelID: "kf", Path: "up/kernel.log"})
	require.Equal(t, agentrpc.KindInvalidInput, remoteErr(t, err).Kind)
	_, err = rt.WalkFiles(ctx, &agentrpc.WalkFilesRequest{KernelID: "kf", Path: "etc", Recursive: true})
	require.Equal(t, agentrpc.KindInvalidInput, remoteErr(t, err).Kind)
	_, err = rt.ListFiles(ctx, "kf", "etc")
	require.Equal(t, agentrpc.KindInvalidInput, remoteErr(t, err).Kind)
	require.Error(t, rt.UploadFile(ctx, "kf", "up/evil", []byte("x")))
	require.NoFileExists(t, filepath.Join(rt.root, "kf", "evil"))
	// In a tree, symbolic links are listed with their target and never followed.
	tree, err = rt.WalkFiles(ctx, &agentrpc.WalkFilesRequest{KernelID: "kf", Path: ".", Recursive: true})
	require.NoError(t, err)
	links := map[string]string{}
	for _, e := range tree.Entries {
		if e.Mode&os.ModeSymlink != 0 {
			links[e.Name] = e.Linkname
		}
	}
	require.Equal(t, map[string]string{"up": "..", "etc": "/etc"}, links)
	require.Equal(t, int64(8), tree.TotalSize)
}

// TestUploadMistakes checks that the caller's mistakes come back as invalid-input errors
// about the path (the manager's 400), not as failures.
func TestUploadMistakes(t *testing.T) {
	ctx := testCtx(t)
	rt := newProcessRuntime(t)
	work := fileKernel(ctx, t, rt, "ku")
	require.NoError(t, rt.UploadFile(ctx, "ku", "a", []byte("a file")))
	require.NoError(t, os.Mkdir(filepath.Join(work, "dir"), 0o755))

	for name, p := range map[string]string{
		"name over 255 bytes":      strings.Repeat("n", 256),
		"nested name over 255":     "sub/" + strings.Repeat("n", 256) + "/x",
		"path over 4095 bytes":     strings.Repeat("d/", 2048) + "x",
		"onto a directory":         "dir",
		"through a file":           "a/b",
		"through a file, deeper":   "a/b/c",
		"the directory itself":     "/home/work",
		"a NUL byte":               "x\x00y",
		"escaping with a dot-dot":  "dir/../../x",
		"onto a directory, dotted": "dir/.",
	} {
		err := rt.UploadFile(ctx, "ku", p, []byte("x"))
		re := remoteErr(t, err)
		require.Equal(t, agentrpc.KindInvalidInput, re.Kind, "%s: %v", name, err)
		require.Equal(t, "path", re.Field, name)
	}
	b, err := os.ReadFile(filepath.Join(work, "a"))
	require.NoError(t, err)
	require.Equal(t, "a file", string(b))
	// A name of exactly 255 bytes is fine.
	require.NoError(t, rt.UploadFile(ctx, "ku", strings.Repeat("n", 255), []byte("x")))

	// A FIFO the kernel left at the name is replaced, not written through (which would
	// block until a reader came).
	require.NoError(t, syscall.Mkfifo(filepath.Join(work, "fifo"), 0o644))
	require.NoError(t, rt.UploadFile(ctx, "ku", "fifo", []byte("data")))
	b, err = os.ReadFile(filepath.Join(work, "fifo"))
	require.NoError(t, err)
	require.Equal(t, "data", string(b))
	// So is a symbolic link: the upload never writes where it points.
	require.NoError(t, os.Symlink("a", filepath.Join(work, "link")))
	require.NoError(t, rt.UploadFile(ctx, "ku", "link", []byte("new")))
	b, err = os.ReadFile(filepath.Join(work, "a"))
	require.NoError(t, err)
	require.Equal(t, "a file", string(b))
}

// TestDownloadSparseFile checks that a sparse file of 1 TiB counts by its apparent size: a
// walk with a limit refuses it before reading anything, and reads of any length stay within
// one chunk (the old whole-file download ran the agent out of memory on such a file).
func TestDownloadSparseFile(t *testing.T) {
	ctx := testCtx(t)
	rt := newProcessRuntime(t)
	work := fileKernel(ctx, t, rt, "ks")
	const tib = int64(1) << 40
	f, err := os.Create(filepath.Join(work, "sparse.bin"))
	require.NoError(t, err)
	require.NoError(t, f.Truncate(tib))
	_, err = f.WriteAt([]byte("end"), tib-3)
	require.NoError(t, err)
	require.NoError(t, f.Close())

	for _, recursive := range []bool{false, true} {
		_, err = rt.WalkFiles(ctx, &agentrpc.WalkFilesRequest{KernelID: "ks", Path: "sparse.bin", Recursive: recursive, MaxBytes: 2 << 30})
		re := remoteErr(t, err)
		require.Equal(t, agentrpc.KindTooLarge, re.Kind)
		require.Equal(t, "path", re.Field)
	}
	_, err = rt.WalkFiles(ctx, &agentrpc.WalkFilesRequest{KernelID: "ks", Path: ".", Recursive: true, MaxBytes: tib - 1})
	require.Equal(t, agentrpc.KindTooLarge, remoteErr(t, err).Kind, "a directory's sum counts")
	w, err := rt.WalkFiles(ctx, &agentrpc.WalkFilesRequest{KernelID: "ks", Path: "sparse.bin"})
	require.NoError(t, err)
	require.Equal(t, tib, w.TotalSize)

	for _, length := range []int{0, agentrpc.MaxChunk, 1 << 30} {
		rep, err := rt.ReadFile(ctx, &agentrpc.ReadFileRequest{KernelID: "ks", Path: "sparse.bin", Offset: 1 << 30, Length: length})
		require.NoError(t, err)
		require.Len(t, rep.Data, agentrpc.MaxChunk)
		require.False(t, rep.EOF)
	}
	rep, err := rt.ReadFile(ctx, &agentrpc.ReadFileRequest{KernelID: "ks", Path: "sparse.bin", Offset: tib - 5})
	require.NoError(t, err)
	require.Equal(t, []byte{0, 0, 'e', 'n', 'd'}, rep.Data)
	require.True(t, rep.EOF)
	rep, err = rt.ReadFile(ctx, &agentrpc.ReadFileRequest{KernelID: "ks", Path: "sparse.bin", Offset: tib + 10})
	require.NoError(t, err)
	require.Empty(t, rep.Data)
	require.True(t, rep.EOF)
}

// TestDownloadLargeFileInChunks reads a 200 MiB file through the agent's RPC: it arrives
// whole, in chunks none larger than agentrpc.MaxChunk.
func TestDownloadLargeFileInChunks(t *testing.T) {
	ctx := testCtx(t)
	rt := newProcessRuntime(t)
	a, err := New(localConfig(t, "i-files"), rt, newFakeEnqueuer(), Options{Logger: testLogger(), Tick: make(chan time.Time)})
	require.NoError(t, err)
	runAgent(t, a)
	c, err := agentrpc.Dial(a.Addr(), agentrpc.ClientOptions{Logger: testLogger()})
	require.NoError(t, err)
	defer c.Close()
	_, err = c.CreateKernels(ctx, &agentrpc.CreateKernelsRequest{SessionID: "s", Kernels: []agentrpc.KernelConfig{{KernelID: "kl", Image: shellImage}}})
	require.NoError(t, err)
	k, err := rt.kernel("kl")
	require.NoError(t, err)
	const size = 200 << 20
	f, err := os.Create(filepath.Join(k.work, "big.bin"))
	require.NoError(t, err)
	require.NoError(t, f.Truncate(size))
	marks := map[int64]string{0: "start", 5 << 20: "five", size - 4: "tail"}
	for off, s := range marks {
		_, err = f.WriteAt([]byte(s), off)
		require.NoError(t, err)
	}
	require.NoError(t, f.Close())

	var got int64
	chunks := 0
	for {
		rep, err := c.ReadFile(ctx, &agentrpc.ReadFileRequest{KernelID: "kl", Path: "big.bin", Offset: got, Length: 1 << 30})
		require.NoError(t, err)
		require.LessOrEqual(t, len(rep.Data), agentrpc.MaxChunk)
		for off, s := range marks {
			if off >= got && off+int64(len(s)) <= got+int64(len(rep.Data)) {
				require.Equal(t, s, string(rep.Data[off-got:off-got+int64(len(s))]))
			}
		}
		got += int64(len(rep.Data))
		chunks++
		if rep.EOF {
			break
		}
	}
	require.Equal(t, int64(size), got)
	require.Equal(t, size/agentrpc.MaxChunk, chunks)
}

// TestDownloadOnlyRegularFiles checks that FIFOs, directories and other non-regular files
// are refused at once (opening a FIFO by name would block the agent), and left out of a
// tree.
func TestDownloadOnlyRegularFiles(t *testing.T) {
	ctx := testCtx(t)
	rt := newProcessRuntime(t)
	work := fileKernel(ctx, t, rt, "kr")
	require.NoError(t, syscall.Mkfifo(filepath.Join(work, "fifo"), 0o644))
	require.NoError(t, os.Mkdir(filepath.Join(work, "dir"), 0o755))
	require.NoError(t, syscall.Mkfifo(filepath.Join(work, "dir", "fifo"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(work, "dir", "f.txt"), []byte("f"), 0o644))
	require.NoError(t, os.Symlink("fifo", filepath.Join(work, "to-fifo")))

	for _, p := range []string{"fifo", "dir", "to-fifo", "dir/fifo"} {
		_, err := rt.ReadFile(ctx, &agentrpc.ReadFileRequest{KernelID: "kr", Path: p})
		re := remoteErr(t, err)
		require.Equal(t, agentrpc.KindInvalidInput, re.Kind, p)
		require.Equal(t, "path", re.Field, p)
		_, err = rt.WalkFiles(ctx, &agentrpc.WalkFilesRequest{KernelID: "kr", Path: p})
		require.Equal(t, agentrpc.KindInvalidInput, remoteErr(t, err).Kind, p)
	}
	for _, p := range []string{"fifo", "to-fifo", "dir/f.txt"} {
		_, err := rt.ListFiles(ctx, "kr", p)
		require.Equal(t, agentrpc.KindInvalidInput, remoteErr(t, err).Kind, p)
	}
	w, err := rt.WalkFiles(ctx, &agentrpc.WalkFilesRequest{KernelID: "kr", Path: "dir", Recursive: true})
	require.NoError(t, err)
	require.Len(t, w.Entries, 1)
	require.Equal(t, "f.txt", w.Entries[0].Name)
	require.Equal(t, "dir/f.txt", w.Entries[0].Path)
}

// TestWalkBudgets checks that a walk stops at its entry budget, however many files a
// directory holds, and that listings are cut at maxListEntries.
func TestWalkBudgets(t *testing.T) {
	ctx := testCtx(t)
	rt := newProcessRuntime(t)
	work := fileKernel(ctx, t, rt, "kb")
	many := filepath.Join(work, "many")
	require.NoError(t, os.Mkdir(many, 0o755))
	for i := range maxListEntries + 5 {
		require.NoError(t, os.WriteFile(filepath.Join(many, fmt.Sprintf("f%05d", i)), nil, 0o644))
	}
	_, err := rt.WalkFiles(ctx, &agentrpc.WalkFilesRequest{KernelID: "kb", Path: "many", Recursive: true, MaxEntries: 100})
	re := remoteErr(t, err)
	require.Equal(t, agentrpc.KindTooLarge, re.Kind)
	require.Contains(t, re.Message, "more than 100 files")
	_, err = rt.WalkFiles(ctx, &agentrpc.WalkFilesRequest{KernelID: "kb", Path: ".", Recursive: true})
	require.Equal(t, agentrpc.KindTooLarge, remoteErr(t, err).Kind, "the default budget")

	ls, err := rt.ListFiles(ctx, "kb", "many")
	require.NoError(t, err)
	require.Len(t, ls.Files, maxListEntries)
	require.Equal(t, "f00000", ls.Files[0].Name)
	require.Equal(t, []string{fmt.Sprintf("the listing stops after %d entries", maxListEntries)}, ls.Errors)
	_, err = rt.ListFiles(ctx, "kb", "many/f00001")
	require.Equal(t, agentrpc.KindInvalidInput, remoteErr(t, err).Kind, "listing a file")
}

// TestReadFileThatChanges reads a file that shrinks and grows between chunks: each read
// answers what is there, within the chunk bound.
func TestReadFileThatChanges(t *testing.T) {
	ctx := testCtx(t)
	rt := newProcessRuntime(t)
	work := fileKernel(ctx, t, rt, "kc")
	p := filepath.Join(work, "log")
	require.NoError(t, os.WriteFile(p, bytes.Repeat([]byte("a"), 10), 0o644))
	rep, err := rt.ReadFile(ctx, &agentrpc.ReadFileRequest{KernelID: "kc", Path: "log", Length: 4})
	require.NoError(t, err)
	require.Equal(t, "aaaa", string(rep.Data))
	require.False(t, rep.EOF)
	require.NoError(t, os.Truncate(p, 6))
	rep, err = rt.ReadFile(ctx, &agentrpc.ReadFileRequest{KernelID: "kc", Path: "log", Offset: 4, Length: 4})
	require.NoError(t, err)
	require.Equal(t, "aa", string(rep.Data))
	require.True(t, rep.EOF)
	require.NoError(t, os.WriteFile(p, bytes.Repeat([]byte("b"), 3*agentrpc.MaxChunk), 0o644))
	b, n := readAll(ctx, t, rt, "kc", "log")
	require.Len(t, b, 3*agentrpc.MaxChunk)
	require.Equal(t, 3, n)
}

// TestDummyRuntimeFiles checks that the dummy runtime answers file reads as unsupported.
func TestDummyRuntimeFiles(t *testing.T) {
	ctx := testCtx(t)
	rt := NewDummyRuntime(nil)
	_, err := rt.CreateKernel(ctx, &agentrpc.KernelConfig{KernelID: "k"})
	require.NoError(t, err)
	_, err = rt.WalkFiles(ctx, &agentrpc.WalkFilesRequest{KernelID: "k", Path: "a"})
	require.ErrorIs(t, err, ErrNotSupported)
	_, err = rt.ReadFile(ctx, &agentrpc.ReadFileRequest{KernelID: "k", Path: "a"})
	require.ErrorIs(t, err, ErrNotSupported)
	_, err = rt.ReadFile(ctx, &agentrpc.ReadFileRequest{KernelID: "x", Path: "a"})
	require.ErrorIs(t, err, ErrKernelNotFound)
}

// TestUploadOwnedByKernel: what an upload creates belongs to the owner of the working
// directory (the kernel's user when kernels run unprivileged), so the kernel can change it.
func TestUploadOwnedByKernel(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give files away")
	}
	ctx := testCtx(t)
	rt := newProcessRuntime(t)
	work := fileKernel(ctx, t, rt, "ko")
	require.NoError(t, os.Chown(work, 4321, 4322))
	require.NoError(t, rt.UploadFile(ctx, "ko", "sub/dir/f.txt", []byte("x")))
	for _, p := range []string{"sub", "sub/dir", "sub/dir/f.txt"} {
		st, err := os.Lstat(filepath.Join(work, p))
		require.NoError(t, err)
		sys := st.Sys().(*syscall.Stat_t)
		require.Equal(t, [2]uint32{4321, 4322}, [2]uint32{sys.Uid, sys.Gid}, p)
	}
}
