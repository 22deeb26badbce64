package session

import (
	"context"
	"encoding/json"
	"io/fs"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/agentrpc"
)

type listFilesInput struct {
	SessionName string `path:"session_name" doc:"Session id or name." example:"my-session"`
	Body        struct {
		Path *string `json:"path,omitempty" doc:"Directory to list, relative to the working directory (default \".\")." example:"."`
	} `required:"false"`
}

// FileEntry is one entry of a listing, as the kernel runner describes it.
type FileEntry struct {
	Filename string  `json:"filename" doc:"Base name."`
	Size     int64   `json:"size" doc:"Size in bytes."`
	Mode     string  `json:"mode" doc:"Type and permissions as ls shows them (\"-rw-r--r--\", \"drwxr-xr-x\")."`
	Mtime    float64 `json:"mtime" doc:"Modification time, seconds since the epoch."`
	Atime    float64 `json:"atime" doc:"Access time, seconds since the epoch."`
	Ctime    float64 `json:"ctime" doc:"Status change time, seconds since the epoch."`
}

// ListFilesOutput is the answer of GET /session/{session_name}/files.
type ListFilesOutput struct {
	Body struct {
		Files   string   `json:"files" doc:"The entries as a JSON-encoded string of a list of {filename, size, mode, mtime, atime, ctime} (Backend.AI's format)."`
		Errors  []string `json:"errors" doc:"Entries that could not be read."`
		AbsPath string   `json:"abspath" doc:"The directory's absolute path inside the kernel."`
	}
}

func registerListFiles(s *functions.Server) {
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "list-session-files", Method: http.MethodGet, Path: "/session/{session_name}/files", Tag: tag,
		Summary:     "List files in a session",
		Description: "Lists a directory of the session's main kernel, relative to its working directory.",
		Role:        functions.User, Frozen: functions.ReadAllowed, Params: true, Errors: []int{404},
	}), func(ctx context.Context, in *listFilesInput) (*ListFilesOutput, error) {
		id := functions.IdentityFrom(ctx)
		t, err := findTarget(ctx, s, id.AccessKey, in.SessionName, true)
		if err != nil {
			return nil, err
		}
		p := "."
		if in.Body.Path != nil && *in.Body.Path != "" {
			p = *in.Body.Path
		}
		if err := checkKernelPath("path", p); err != nil {
			return nil, err
		}
		cctx, cancel := context.WithTimeout(ctx, fileCallTimeout)
		defer cancel()
		rep, err := t.Agent.ListFiles(cctx, &agentrpc.ListFilesRequest{KernelID: t.KernelID(), Path: p})
		if err != nil {
			return nil, agentError(err, functions.ErrKernelExecutionFailed, "path")
		}
		entries := make([]FileEntry, 0, len(rep.Files))
		for _, f := range rep.Files {
			e := FileEntry{Filename: f.Name, Size: f.Size, Mode: fileMode(f.Mode), Mtime: epoch(f.Mtime),
				Atime: epoch(f.Atime), Ctime: epoch(f.Ctime)}
			if f.Atime.IsZero() {
				e.Atime = e.Mtime
			}
			if f.Ctime.IsZero() {
				e.Ctime = e.Mtime
			}
			entries = append(entries, e)
		}
		raw, err := json.Marshal(entries)
		if err != nil {
			return nil, functions.ErrInternal("encode file list: " + err.Error())
		}
		out := &ListFilesOutput{}
		out.Body.Files = string(raw)
		out.Body.Errors = rep.Errors
		if out.Body.Errors == nil {
			out.Body.Errors = []string{}
		}
		out.Body.AbsPath = rep.AbsPath
		return out, nil
	})
}

// checkKernelPath checks a path parameter (named param) the way the agent will (no NUL byte,
// names of at most 255 bytes, at most 4095 bytes in all, inside the working directory), so
// that a bad path is the caller's 400 before any agent is asked.
func checkKernelPath(param, p string) error {
	if _, err := agentrpc.KernelPath(p); err != nil {
		return agentError(err, functions.ErrKernelExecutionFailed, param)
	}
	return nil
}

// epoch is t in seconds since the epoch, with its fraction.
func epoch(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixNano()) / 1e9
}

// fileMode writes m the way ls (and Python's stat.filemode) does: a type letter, then the
// permission triplets with setuid, setgid and sticky bits folded in.
func fileMode(m fs.FileMode) string {
	b := []byte("----------")
	switch {
	case m&fs.ModeDir != 0:
		b[0] = 'd'
	case m&fs.ModeSymlink != 0:
		b[0] = 'l'
	case m&fs.ModeNamedPipe != 0:
		b[0] = 'p'
	case m&fs.ModeSocket != 0:
		b[0] = 's'
	case m&fs.ModeCharDevice != 0:
		b[0] = 'c'
	case m&fs.ModeDevice != 0:
		b[0] = 'b'
	}
	const rwx = "rwxrwxrwx"
	for i := range 9 {
		if m&(1<<uint(8-i)) != 0 {
			b[i+1] = rwx[i]
		}
	}
	special := func(set bool, idx int, on, off byte) {
		if !set {
			return
		}
		if b[idx] == '-' {
			b[idx] = off
		} else {
			b[idx] = on
		}
	}
	special(m&fs.ModeSetuid != 0, 3, 's', 'S')
	special(m&fs.ModeSetgid != 0, 6, 's', 'S')
	special(m&fs.ModeSticky != 0, 9, 't', 'T')
	return string(b)
}
