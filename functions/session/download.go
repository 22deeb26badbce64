package session

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
	"github.com/shopspring/decimal"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/agentrpc"
	"github.com/hangar-run/hangar/internal/slots"
)

// Downloads stream: the agent first describes what would be read (walk_files), which is
// checked against the size limit before a byte is read, then each regular file is read in
// chunks of at most agentrpc.MaxChunk bytes (read_file) and written to the client as it
// comes; tar archives are written over those chunks. The API holds one chunk per download,
// the agent nothing between chunks. A client that stops reading for downloadWriteTimeout is
// disconnected.

// DownloadMaxSizeKey is the shared-configuration key (under /sorna/{namespace}/) of the
// largest download: the apparent size of the file (download_single), or the sum of the
// apparent sizes of every regular file of the archives (download). A binary size ("2g",
// "512m", "1073741824"); DefaultDownloadMaxSize when unset or invalid.
const DownloadMaxSizeKey = "config/hangar/session/download-max-size"

// DefaultDownloadMaxSize is the largest download when DownloadMaxSizeKey is not set: 2 GiB.
const DefaultDownloadMaxSize int64 = 2 << 30

// downloadWriteTimeout is how long writing one chunk to the client may take.
const downloadWriteTimeout = time.Minute

type downloadInput struct {
	SessionName string `path:"session_name" doc:"Session id or name." example:"my-session"`
	Body        struct {
		Files []string `json:"files" minItems:"1" maxItems:"5" doc:"Paths to download, relative to the working directory (files or directories, at most 5)." example:"[\"output.txt\"]"`
	}
}

type downloadSingleInput struct {
	SessionName string `path:"session_name" doc:"Session id or name." example:"my-session"`
	Body        struct {
		File string `json:"file" minLength:"1" doc:"Path of the file, relative to the working directory." example:"output.txt"`
	}
}

// downloadMaxSize is the configured download limit in bytes.
func downloadMaxSize(s *functions.Server) int64 {
	d := s.Deps()
	if d.Shared == nil {
		return DefaultDownloadMaxSize
	}
	v, ok := d.Shared.Get(DownloadMaxSizeKey)
	if !ok || strings.TrimSpace(v) == "" {
		return DefaultDownloadMaxSize
	}
	n, err := slots.ParseBinarySize(v)
	if err != nil || !n.IsPositive() || n.GreaterThan(decimal.NewFromInt(math.MaxInt64)) {
		d.Log().Warn("invalid download size limit; using the default", "key", DownloadMaxSizeKey, "value", v,
			"default", DefaultDownloadMaxSize)
		return DefaultDownloadMaxSize
	}
	return n.IntPart()
}

// tooLarge is the 400 for a download past the limit; Backend.AI has no 413 type (its 413
// becomes generic-bad-request), so the offending key is named as any invalid parameter.
func tooLarge(param string, size, limit int64) error {
	msg := fmt.Sprintf("The download is too large: %d bytes, the limit is %d bytes.", size, limit)
	return functions.ErrInvalidAPIParams(msg, map[string]string{param: msg})
}

func registerDownload(s *functions.Server) {
	op := functions.Op(functions.OpSpec{
		ID: "download-session-files", Method: http.MethodGet, Path: "/session/{session_name}/download", Tag: tag,
		Summary: "Download files from a session",
		Description: "Reads up to 5 files or directories out of the session's main kernel. The answer is " +
			"multipart/mixed with one part per path, in request order, each a tar archive of that path " +
			"(regular files, directories and symbolic links; FIFOs, sockets and devices are left out). The " +
			"sum of the regular files' sizes (sparse files count by their apparent size) must not exceed the " +
			"download limit (shared configuration " + DownloadMaxSizeKey + ", 2 GiB by default), nor the " +
			"entries 10000; past either the answer is 400 invalid-api-params before anything is read.",
		Role: functions.User, Frozen: functions.ReadAllowed, Params: true, Errors: []int{404},
	})
	op.Responses = map[string]*huma.Response{"200": {
		Description: "One tar archive per requested path.",
		Headers: map[string]*huma.Param{"Content-Type": {Schema: &huma.Schema{Type: "string",
			Description: "multipart/mixed with its boundary."}}},
		Content: map[string]*huma.MediaType{"multipart/mixed": {Schema: &huma.Schema{Type: "string", Format: "binary"}}},
	}}
	huma.Register(s.API(), op, func(ctx context.Context, in *downloadInput) (*huma.StreamResponse, error) {
		id := functions.IdentityFrom(ctx)
		for _, p := range in.Body.Files {
			if err := checkKernelPath("files", p); err != nil {
				return nil, err
			}
		}
		t, err := findTarget(ctx, s, id.AccessKey, in.SessionName, true)
		if err != nil {
			return nil, err
		}
		limit := downloadMaxSize(s)
		var total int64
		entries := agentrpc.DefaultWalkEntries
		walks := make([]*agentrpc.WalkFilesReply, 0, len(in.Body.Files))
		for _, p := range in.Body.Files {
			if entries <= 0 {
				return nil, functions.ErrInvalidAPIParams(
					fmt.Sprintf("Too many files to download (at most %d).", agentrpc.DefaultWalkEntries), map[string]string{"files": p})
			}
			cctx, cancel := context.WithTimeout(ctx, fileCallTimeout)
			rep, err := t.Agent.WalkFiles(cctx, &agentrpc.WalkFilesRequest{KernelID: t.KernelID(), Path: p, Recursive: true,
				MaxBytes: limit, MaxEntries: entries})
			cancel()
			if err != nil {
				return nil, agentError(err, functions.ErrKernelExecutionFailed, "files")
			}
			if total += rep.TotalSize; total > limit {
				return nil, tooLarge("files", total, limit)
			}
			entries -= len(rep.Entries)
			walks = append(walks, rep)
		}
		return &huma.StreamResponse{Body: func(hctx huma.Context) {
			w := newDownloadWriter(hctx)
			defer w.done()
			mw := multipart.NewWriter(w)
			hctx.SetHeader("Content-Type", "multipart/mixed; boundary="+mw.Boundary())
			hctx.SetStatus(http.StatusOK)
			for i, walk := range walks {
				part, err := mw.CreatePart(textproto.MIMEHeader{"Content-Type": {"application/octet-stream"}})
				if err == nil {
					err = writeTar(hctx.Context(), t, part, walk)
				}
				if err != nil {
					s.Deps().Log().Warn("download cut short", "session", t.Session.ID, "path", in.Body.Files[i], "err", err,
						"request_id", functions.RequestID(ctx))
					panic(http.ErrAbortHandler) // the client sees a truncated answer, not a valid one
				}
			}
			if err := mw.Close(); err != nil {
				panic(http.ErrAbortHandler)
			}
		}}, nil
	})
}

func registerDownloadSingle(s *functions.Server) {
	op := functions.Op(functions.OpSpec{
		ID: "download-session-file", Method: http.MethodGet, Path: "/session/{session_name}/download_single", Tag: tag,
		Summary: "Download one file from a session",
		Description: "Reads one regular file out of the session's main kernel and answers its raw bytes. " +
			"A file larger than the download limit (shared configuration " + DownloadMaxSizeKey + ", 2 GiB " +
			"by default; a sparse file counts by its apparent size) is 400 invalid-api-params, as is a path " +
			"that is not a regular file.",
		Role: functions.User, Frozen: functions.ReadAllowed, Params: true, Errors: []int{404},
	})
	op.Responses = map[string]*huma.Response{"200": {
		Description: "The file's bytes.",
		Headers: map[string]*huma.Param{
			"Content-Type":   {Schema: &huma.Schema{Type: "string", Description: "application/octet-stream."}},
			"Content-Length": {Schema: &huma.Schema{Type: "integer", Description: "The file's size in bytes."}},
		},
		Content: map[string]*huma.MediaType{"application/octet-stream": {Schema: &huma.Schema{Type: "string", Format: "binary"}}},
	}}
	huma.Register(s.API(), op, func(ctx context.Context, in *downloadSingleInput) (*huma.StreamResponse, error) {
		id := functions.IdentityFrom(ctx)
		if err := checkKernelPath("file", in.Body.File); err != nil {
			return nil, err
		}
		t, err := findTarget(ctx, s, id.AccessKey, in.SessionName, true)
		if err != nil {
			return nil, err
		}
		limit := downloadMaxSize(s)
		cctx, cancel := context.WithTimeout(ctx, fileCallTimeout)
		defer cancel()
		rep, err := t.Agent.WalkFiles(cctx, &agentrpc.WalkFilesRequest{KernelID: t.KernelID(), Path: in.Body.File, MaxBytes: limit})
		if err != nil {
			return nil, agentError(err, functions.ErrKernelExecutionFailed, "file")
		}
		if len(rep.Entries) != 1 {
			return nil, functions.ErrKernelExecutionFailed(fmt.Sprintf("the agent described %d files", len(rep.Entries)))
		}
		if rep.TotalSize > limit {
			return nil, tooLarge("file", rep.TotalSize, limit)
		}
		e := rep.Entries[0]
		return &huma.StreamResponse{Body: func(hctx huma.Context) {
			w := newDownloadWriter(hctx)
			defer w.done()
			hctx.SetHeader("Content-Type", "application/octet-stream")
			hctx.SetHeader("Content-Length", strconv.FormatInt(e.Size, 10))
			hctx.SetStatus(http.StatusOK)
			if _, err := io.Copy(w, &chunkReader{ctx: hctx.Context(), t: t, path: e.Path, size: e.Size}); err != nil {
				s.Deps().Log().Warn("download cut short", "session", t.Session.ID, "path", e.Path, "err", err,
					"request_id", functions.RequestID(ctx))
				panic(http.ErrAbortHandler) // fewer bytes than Content-Length: the client sees it
			}
		}}, nil
	})
}

// downloadWriter writes an answer's body, giving each write downloadWriteTimeout, so that a
// client that stops reading is disconnected instead of holding the download open.
type downloadWriter struct {
	w  io.Writer
	rc *http.ResponseController
}

func newDownloadWriter(hctx huma.Context) *downloadWriter {
	_, rw := humago.Unwrap(hctx)
	return &downloadWriter{w: hctx.BodyWriter(), rc: http.NewResponseController(rw)}
}

func (d *downloadWriter) Write(p []byte) (int, error) {
	_ = d.rc.SetWriteDeadline(time.Now().Add(downloadWriteTimeout))
	return d.w.Write(p)
}

// done lifts the write deadline, which would otherwise outlive the answer on a kept-alive
// connection.
func (d *downloadWriter) done() { _ = d.rc.SetWriteDeadline(time.Time{}) }

// chunkReader reads the first size bytes of a regular file of a kernel, one read_file call
// of at most agentrpc.MaxChunk bytes at a time. A file that has shrunk below size ends with
// io.ErrUnexpectedEOF; bytes past size (the file grew) are not read.
type chunkReader struct {
	ctx  context.Context
	t    *target
	path string
	size int64
	off  int64
	buf  []byte // the part of the last chunk not yet read
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.buf) == 0 {
		if r.off >= r.size {
			return 0, io.EOF
		}
		cctx, cancel := context.WithTimeout(r.ctx, fileCallTimeout)
		rep, err := r.t.Agent.ReadFile(cctx, &agentrpc.ReadFileRequest{KernelID: r.t.KernelID(), Path: r.path, Offset: r.off,
			Length: int(min(int64(agentrpc.MaxChunk), r.size-r.off))})
		cancel()
		if err != nil {
			return 0, err
		}
		if len(rep.Data) == 0 {
			return 0, io.ErrUnexpectedEOF
		}
		r.buf = rep.Data[:min(int64(len(rep.Data)), r.size-r.off)]
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	r.off += int64(n)
	return n, nil
}

// writeTar writes the tar archive of one walk to w, reading each regular file in chunks. A
// file that shrank or stopped being a regular file since the walk is padded with zeros to
// the size its header announced (as GNU tar does), so the archive stays well-formed; other
// failures (the agent gone) end the archive with the error.
func writeTar(ctx context.Context, t *target, w io.Writer, walk *agentrpc.WalkFilesReply) error {
	tw := tar.NewWriter(w)
	for _, e := range walk.Entries {
		hdr := &tar.Header{Name: e.Name, Mode: int64(e.Mode.Perm()), ModTime: e.Mtime}
		switch {
		case e.Mode.IsDir():
			hdr.Typeflag, hdr.Name = tar.TypeDir, e.Name+"/"
		case e.Mode&fs.ModeSymlink != 0:
			hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, e.Linkname
		case e.Mode.IsRegular():
			hdr.Typeflag, hdr.Size = tar.TypeReg, e.Size
		default:
			continue
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("tar header of %s: %w", e.Name, err)
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		n, err := io.Copy(tw, &chunkReader{ctx: ctx, t: t, path: e.Path, size: e.Size})
		if err != nil && !userFileError(err) {
			return fmt.Errorf("read %s: %w", e.Path, err)
		}
		if _, err := io.CopyN(tw, zeros{}, e.Size-n); err != nil {
			return err
		}
	}
	return tw.Close()
}

// userFileError reports a read failure caused by what the kernel did to the file (it
// shrank, vanished or was replaced), as opposed to a failure of the agent.
func userFileError(err error) bool {
	var re *agentrpc.RemoteError
	return errors.Is(err, io.ErrUnexpectedEOF) ||
		(errors.As(err, &re) && (re.Kind == agentrpc.KindInvalidInput || re.Kind == agentrpc.KindNotFound))
}

// zeros reads as an endless run of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
