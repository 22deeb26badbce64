package agent

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/hangar-run/hangar/internal/agentrpc"
)

// File operations of the process runtime. Every path resolves through an os.Root opened on
// the kernel's working directory, so neither ".." nor a symbolic link a kernel planted leads
// out of it. Whatever a kernel puts there, the agent stays responsive and its memory bounded:
//   - downloads serve regular files only (a FIFO, socket or device is refused before it is
//     opened, and a file is opened non-blocking and checked again once open), one chunk of at
//     most agentrpc.MaxChunk bytes per call, the file opened and closed within the call;
//   - a walk reads directories in batches and stops at its entry, size and name budgets, so
//     a directory of millions of entries costs no more than the budget;
//   - sizes are apparent sizes: a sparse file of 4 TiB counts as 4 TiB, and a download over
//     the caller's limit is refused before a byte is read;
//   - a file that changes while it is read yields what was there at each read, never more
//     than a chunk;
//   - an upload goes to a fresh file in the target directory that is renamed into place, so
//     it never writes through a FIFO or device the kernel left at that name, and never onto a
//     directory.

// Listing and walking budgets.
const (
	// maxListEntries bounds the entries one list_files answers; a larger directory's listing
	// is cut there, with a line in Errors saying so.
	maxListEntries = 10_000
	// maxWalkNames bounds the bytes of names and paths one walk_files reply carries.
	maxWalkNames = 4 << 20
	// dirBatch is how many directory entries are read at a time.
	dirBatch = 256
)

// openRoot returns the kernel's working directory as an os.Root and p checked and made
// relative to it.
func (r *ProcessRuntime) openRoot(kernelID, p string) (*os.Root, string, error) {
	k, err := r.kernel(kernelID)
	if err != nil {
		return nil, "", err
	}
	rel, err := agentrpc.KernelPath(p)
	if err != nil {
		return nil, "", err
	}
	root, err := os.OpenRoot(k.work)
	if err != nil {
		return nil, "", fmt.Errorf("kernel %s work dir: %w", kernelID, err)
	}
	return root, rel, nil
}

// fileError maps a file error about the request path p onto the RPC error the manager
// sees: the caller's mistakes (a missing file, a path through a file, a directory where a
// file is needed, a name too long, a path escaping the working directory) as not-found or
// invalid-input about the field "path"; anything else (a full disk, an I/O error) stays a
// failure.
func fileError(err error, p string) error {
	var re *agentrpc.RemoteError
	if errors.As(err, &re) {
		return err
	}
	invalid := func(format string, args ...any) error {
		return agentrpc.FieldErrorf(agentrpc.KindInvalidInput, "path", format, args...)
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return agentrpc.FieldErrorf(agentrpc.KindNotFound, "path", "%s: no such file or directory", p)
	case isEscape(err):
		return invalid("path %q escapes the kernel's working directory", p)
	case errors.Is(err, syscall.ENOTDIR):
		return invalid("%s: a part of the path is not a directory", p)
	case errors.Is(err, syscall.EISDIR), errors.Is(err, syscall.ENOTEMPTY):
		return invalid("%s is a directory", p)
	case errors.Is(err, syscall.EEXIST):
		return invalid("%s: a part of the path exists and is not a directory", p)
	case errors.Is(err, syscall.ENAMETOOLONG):
		return invalid("%s: file name too long", p)
	case errors.Is(err, syscall.ELOOP):
		return invalid("%s: too many levels of symbolic links", p)
	case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
		return invalid("%s: permission denied", p)
	case errors.Is(err, syscall.EINVAL):
		return invalid("%s: invalid path", p)
	default:
		return fmt.Errorf("%s: %w", p, err)
	}
}

// isEscape reports the error os.Root answers for a path that resolves outside it (the
// standard library exposes no sentinel for it; the kernel's openat2 answers EXDEV).
func isEscape(err error) bool {
	return errors.Is(err, syscall.EXDEV) || strings.Contains(err.Error(), "path escapes from parent")
}

// notRegular is the error for a path that names something other than a regular file.
func notRegular(p string, mode fs.FileMode) error {
	what := "not a regular file"
	if mode.IsDir() {
		what = "a directory"
	}
	return agentrpc.FieldErrorf(agentrpc.KindInvalidInput, "path", "%s is %s: only regular files can be downloaded", p, what)
}

// UploadFile implements [Runtime]: it writes data to path p inside a kernel's working
// directory, creating the parent directories. The data goes to a new file in the target
// directory, renamed over p once complete. p must not name a directory.
func (r *ProcessRuntime) UploadFile(_ context.Context, kernelID, p string, data []byte) error {
	root, rel, err := r.openRoot(kernelID, p)
	if err != nil {
		return err
	}
	defer root.Close()
	if rel == "." {
		return agentrpc.FieldErrorf(agentrpc.KindInvalidInput, "path", "upload needs a file path")
	}
	own := workOwner(root)
	dir := path.Dir(rel)
	if err := mkdirs(root, dir, own); err != nil {
		return fileError(err, p)
	}
	if st, err := root.Lstat(rel); err == nil && st.IsDir() {
		return agentrpc.FieldErrorf(agentrpc.KindInvalidInput, "path", "%s is a directory", p)
	}
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	tmp := path.Join(dir, ".hangar-upload-"+hex.EncodeToString(rnd[:]))
	f, err := root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o644)
	if err != nil {
		return fileError(err, p)
	}
	_, werr := f.Write(data)
	if werr == nil {
		werr = own.chown(f)
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = root.Rename(tmp, rel)
	}
	if werr != nil {
		_ = root.Remove(tmp)
		return fileError(werr, p)
	}
	return nil
}

// owner is the user and group that files the agent creates in a working directory are given:
// those of the directory itself, so that a kernel running as an unprivileged user owns what
// is uploaded to it. The zero owner (an agent that is not root, or a directory root owns)
// changes nothing.
type owner struct {
	uid, gid int
	set      bool
}

// workOwner returns the owner of root's directory, when the agent may give files to it.
func workOwner(root *os.Root) owner {
	if os.Geteuid() != 0 {
		return owner{}
	}
	st, err := root.Stat(".")
	if err != nil {
		return owner{}
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok || (sys.Uid == 0 && sys.Gid == 0) {
		return owner{}
	}
	return owner{uid: int(sys.Uid), gid: int(sys.Gid), set: true}
}

// chown gives the open file f to o.
func (o owner) chown(f *os.File) error {
	if !o.set {
		return nil
	}
	return f.Chown(o.uid, o.gid)
}

// mkdirs creates dir and its missing parents (mode 0755, owned by own) inside root. A part
// of the path that exists and is not a directory fails with ENOTDIR.
func mkdirs(root *os.Root, dir string, own owner) error {
	if dir == "." {
		return nil
	}
	cur := ""
	for name := range strings.SplitSeq(dir, "/") {
		cur = path.Join(cur, name)
		err := root.Mkdir(cur, 0o755)
		switch {
		case err == nil:
			if own.set {
				if err := root.Lchown(cur, own.uid, own.gid); err != nil {
					return err
				}
			}
		case errors.Is(err, fs.ErrExist):
			st, serr := root.Stat(cur)
			if serr != nil {
				return serr
			}
			if !st.IsDir() {
				return &fs.PathError{Op: "mkdir", Path: cur, Err: syscall.ENOTDIR}
			}
		default:
			return err
		}
	}
	return nil
}

// ListFiles implements [Runtime]: it lists directory p inside a kernel's working directory,
// sorted by name, at most maxListEntries entries (a longer listing is cut, and says so in
// Errors).
func (r *ProcessRuntime) ListFiles(_ context.Context, kernelID, p string) (*agentrpc.ListFilesReply, error) {
	root, rel, err := r.openRoot(kernelID, p)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	d, err := openDir(root, rel)
	if errors.Is(err, syscall.ENOTDIR) {
		return nil, agentrpc.FieldErrorf(agentrpc.KindInvalidInput, "path", "%s is not a directory", p)
	}
	if err != nil {
		return nil, fileError(err, p)
	}
	defer d.Close()
	ents, complete, err := readDir(d, maxListEntries)
	if err != nil {
		return nil, fileError(err, p)
	}
	rep := &agentrpc.ListFilesReply{Files: make([]agentrpc.FileInfo, 0, len(ents)), AbsPath: path.Join(agentrpc.KernelWorkDir, rel)}
	if !complete {
		rep.Errors = append(rep.Errors, fmt.Sprintf("the listing stops after %d entries", maxListEntries))
	}
	for _, e := range ents {
		fi, err := e.Info()
		if err != nil {
			rep.Errors = append(rep.Errors, fmt.Sprintf("%s: %v", e.Name(), err))
			continue
		}
		info := agentrpc.FileInfo{Name: e.Name(), Size: fi.Size(), Mode: fi.Mode(), Mtime: fi.ModTime(), IsDir: fi.IsDir()}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			info.Atime = time.Unix(st.Atim.Unix()).UTC()
			info.Ctime = time.Unix(st.Ctim.Unix()).UTC()
		}
		rep.Files = append(rep.Files, info)
	}
	return rep, nil
}

// openDir opens the directory rel; anything else fails with ENOTDIR, without blocking (a
// FIFO opened for reading would wait for a writer).
func openDir(root *os.Root, rel string) (*os.File, error) {
	return root.OpenFile(rel, os.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NONBLOCK, 0)
}

// readDir reads at most limit entries of the open directory d, in batches, sorted by name;
// complete is false when the directory has more.
func readDir(d *os.File, limit int) (ents []fs.DirEntry, complete bool, err error) {
	for {
		batch, err := d.ReadDir(dirBatch)
		ents = append(ents, batch...)
		if len(ents) > limit {
			ents = ents[:limit]
			break
		}
		if errors.Is(err, io.EOF) || (err == nil && len(batch) == 0) {
			complete = true
			break
		}
		if err != nil {
			return nil, false, err
		}
	}
	slices.SortFunc(ents, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return ents, complete, nil
}

// WalkFiles implements [Runtime]: it describes one regular file or, with req.Recursive, a
// file or the tree of a directory (its entries named relative to it, parents first), within
// the request's budgets.
func (r *ProcessRuntime) WalkFiles(_ context.Context, req *agentrpc.WalkFilesRequest) (*agentrpc.WalkFilesReply, error) {
	root, rel, err := r.openRoot(req.KernelID, req.Path)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	st, err := root.Stat(rel)
	if err != nil {
		return nil, fileError(err, req.Path)
	}
	w := &walker{root: root, req: req, maxEntries: req.MaxEntries, rep: &agentrpc.WalkFilesReply{Entries: []agentrpc.WalkEntry{}}}
	if w.maxEntries <= 0 {
		w.maxEntries = agentrpc.DefaultWalkEntries
	}
	switch {
	case st.Mode().IsRegular():
		err = w.add(path.Base(rel), rel, st, "")
	case st.IsDir() && req.Recursive:
		err = w.dir(rel, "")
	default:
		err = notRegular(req.Path, st.Mode())
	}
	if err != nil {
		return nil, err
	}
	return w.rep, nil
}

// walker gathers the entries of one walk within its budgets.
type walker struct {
	root       *os.Root
	req        *agentrpc.WalkFilesRequest
	maxEntries int
	visited    int
	names      int
	rep        *agentrpc.WalkFilesReply
}

// tooLarge is the error of a walk past one of its budgets.
func (w *walker) tooLarge(format string, args ...any) error {
	return agentrpc.FieldErrorf(agentrpc.KindTooLarge, "path", "%s: %s", w.req.Path, fmt.Sprintf(format, args...))
}

// add records one entry (name in the archive, rel to read it) and charges the budgets.
func (w *walker) add(name, rel string, fi fs.FileInfo, link string) error {
	e := agentrpc.WalkEntry{Name: name, Path: rel, Mode: fi.Mode(), Mtime: fi.ModTime(), Linkname: link}
	if fi.Mode().IsRegular() {
		e.Size = fi.Size()
		w.rep.TotalSize += e.Size
		if w.req.MaxBytes > 0 && w.rep.TotalSize > w.req.MaxBytes {
			return w.tooLarge("larger than the download limit of %d bytes", w.req.MaxBytes)
		}
	}
	w.names += len(name) + len(rel) + len(link)
	if w.names > maxWalkNames {
		return w.tooLarge("too many files")
	}
	w.rep.Entries = append(w.rep.Entries, e)
	return nil
}

// dir walks the directory rel, whose entries are named under prefix in the archive.
// Symbolic links are listed, not followed; FIFOs, sockets and devices are left out.
func (w *walker) dir(rel, prefix string) error {
	d, err := openDir(w.root, rel)
	if err != nil {
		return fileError(err, path.Join(w.req.Path, prefix))
	}
	ents, complete, err := readDir(d, w.maxEntries-w.visited)
	d.Close()
	if err != nil {
		return fileError(err, path.Join(w.req.Path, prefix))
	}
	w.visited += len(ents)
	if !complete {
		return w.tooLarge("more than %d files", w.maxEntries)
	}
	for _, e := range ents {
		name, p := path.Join(prefix, e.Name()), path.Join(rel, e.Name())
		t := e.Type()
		if t&(fs.ModeDir|fs.ModeSymlink) == 0 && !t.IsRegular() {
			continue // FIFO, socket, device
		}
		fi, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue // removed meanwhile
		}
		if err != nil {
			return fileError(err, path.Join(w.req.Path, name))
		}
		switch {
		case t.IsDir():
			if err := w.add(name, p, fi, ""); err != nil {
				return err
			}
			if err := w.dir(p, name); err != nil {
				return err
			}
		case t&fs.ModeSymlink != 0:
			link, err := w.root.Readlink(p)
			if err != nil {
				continue // replaced meanwhile
			}
			if err := w.add(name, p, fi, link); err != nil {
				return err
			}
		default:
			if err := w.add(name, p, fi, ""); err != nil {
				return err
			}
		}
	}
	return nil
}

// ReadFile implements [Runtime]: it reads at most req.Length bytes (agentrpc.MaxChunk at
// most) of the regular file req.Path from req.Offset, opening and closing the file within
// the call.
func (r *ProcessRuntime) ReadFile(_ context.Context, req *agentrpc.ReadFileRequest) (*agentrpc.ReadFileReply, error) {
	root, rel, err := r.openRoot(req.KernelID, req.Path)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	if req.Offset < 0 {
		return nil, agentrpc.FieldErrorf(agentrpc.KindInvalidInput, "offset", "negative offset %d", req.Offset)
	}
	f, size, err := openRegular(root, rel, req.Path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if req.Offset >= size {
		return &agentrpc.ReadFileReply{Data: []byte{}, EOF: true}, nil
	}
	want := int(min(int64(agentrpc.ClampChunk(req.Length)), size-req.Offset))
	buf := make([]byte, want)
	n, err := f.ReadAt(buf, req.Offset)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fileError(err, req.Path)
	}
	return &agentrpc.ReadFileReply{Data: buf[:n], EOF: n < want || req.Offset+int64(n) >= size}, nil
}

// openRegular opens rel for reading when it is a regular file, and returns its size. It
// checks before opening (so that no FIFO or device is ever opened by name) and again on the
// open file (the name may have been replaced in between); the open does not block.
func openRegular(root *os.Root, rel, p string) (*os.File, int64, error) {
	st, err := root.Stat(rel)
	if err != nil {
		return nil, 0, fileError(err, p)
	}
	if !st.Mode().IsRegular() {
		return nil, 0, notRegular(p, st.Mode())
	}
	f, err := root.OpenFile(rel, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, 0, fileError(err, p)
	}
	st, err = f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, fileError(err, p)
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, 0, notRegular(p, st.Mode())
	}
	return f, st.Size(), nil
}

// UploadFile implements agentrpc.Handler.
func (a *Agent) UploadFile(ctx context.Context, req *agentrpc.UploadFileRequest) error {
	return rpcError(a.rt.UploadFile(ctx, req.KernelID, req.Path, req.Data))
}

// ListFiles implements agentrpc.Handler.
func (a *Agent) ListFiles(ctx context.Context, req *agentrpc.ListFilesRequest) (*agentrpc.ListFilesReply, error) {
	rep, err := a.rt.ListFiles(ctx, req.KernelID, req.Path)
	return rep, rpcError(err)
}

// WalkFiles implements agentrpc.Handler.
func (a *Agent) WalkFiles(ctx context.Context, req *agentrpc.WalkFilesRequest) (*agentrpc.WalkFilesReply, error) {
	rep, err := a.rt.WalkFiles(ctx, req)
	return rep, rpcError(err)
}

// ReadFile implements agentrpc.Handler.
func (a *Agent) ReadFile(ctx context.Context, req *agentrpc.ReadFileRequest) (*agentrpc.ReadFileReply, error) {
	rep, err := a.rt.ReadFile(ctx, req)
	return rep, rpcError(err)
}
