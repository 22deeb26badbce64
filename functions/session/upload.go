package session

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/agentrpc"
)

// Upload limits, as Backend.AI enforces them.
const (
	// uploadMaxFiles is the most files one upload may carry.
	uploadMaxFiles = 20
	// uploadMaxFileSize is the bound every uploaded file must stay below.
	uploadMaxFileSize = 1 << 20
	// uploadMaxBody bounds the whole request: the files plus their part headers.
	uploadMaxBody = uploadMaxFiles*uploadMaxFileSize + 1<<20
)

// fileCallTimeout bounds one file operation on the agent.
const fileCallTimeout = 30 * time.Second

type uploadInput struct {
	SessionName string `path:"session_name" doc:"Session id or name." example:"my-session"`
	ContentType string `header:"Content-Type" doc:"multipart/form-data with its boundary."`
	RawBody     []byte `contentType:"multipart/form-data"`
}

// UploadOutput is the empty 204 answer of POST /session/{session_name}/upload.
type UploadOutput struct{}

// uploadedFile is one file of an upload: its destination and content.
type uploadedFile struct {
	path string
	data []byte
}

func registerUpload(s *functions.Server) {
	op := functions.Op(functions.OpSpec{
		ID: "upload-session-files", Method: http.MethodPost, Path: "/session/{session_name}/upload", Tag: tag,
		Summary: "Upload files into a session",
		Description: "Writes files into the working directory of the session's main kernel. The body is " +
			"multipart/form-data with one part per file in the field \"src\"; each part's filename is the " +
			"destination path relative to the working directory (sub-directories are created). At most 20 " +
			"files, each smaller than 1 MiB.",
		Role: functions.User, Frozen: functions.ReadAllowed, Status: http.StatusNoContent, Errors: []int{404},
	})
	op.MaxBodyBytes = uploadMaxBody
	// The raw body is parsed by the handler; huma has no multipart decoder to validate it with.
	op.SkipValidateBody = true
	op.RequestBody = &huma.RequestBody{
		Required: true,
		Content: map[string]*huma.MediaType{"multipart/form-data": {Schema: &huma.Schema{
			Type: "object",
			Properties: map[string]*huma.Schema{"src": {
				Type: "array", Items: &huma.Schema{Type: "string", Format: "binary"},
				Description: "The files; each part's filename is its destination path.",
			}},
			Required: []string{"src"},
		}}},
	}
	huma.Register(s.API(), op, func(ctx context.Context, in *uploadInput) (*UploadOutput, error) {
		id := functions.IdentityFrom(ctx)
		t, err := findTarget(ctx, s, id.AccessKey, in.SessionName, true)
		if err != nil {
			return nil, err
		}
		files, err := parseUpload(in.ContentType, in.RawBody)
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			cctx, cancel := context.WithTimeout(ctx, fileCallTimeout)
			err := t.Agent.UploadFile(cctx, &agentrpc.UploadFileRequest{KernelID: t.KernelID(), Path: f.path, Data: f.data})
			cancel()
			if err != nil {
				return nil, fileAgentError(err)
			}
		}
		return &UploadOutput{}, nil
	})
}

// parseUpload reads the files of a multipart/form-data body, enforcing the count and size
// limits. Parts of other fields are skipped, as are parts without a filename.
func parseUpload(contentType string, body []byte) ([]uploadedFile, error) {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return nil, functions.ErrInvalidAPIParams("The body must be multipart/form-data with a boundary.", nil)
	}
	rd := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	var files []uploadedFile
	for {
		part, err := rd.NextRawPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, functions.ErrInvalidAPIParams("Malformed multipart body: "+err.Error(), nil)
		}
		// The destination keeps its directories: Part.FileName would reduce it to a base name.
		_, disp, err := mime.ParseMediaType(part.Header.Get("Content-Disposition"))
		if err != nil || disp["name"] != "src" || disp["filename"] == "" {
			continue
		}
		if len(files) == uploadMaxFiles {
			return nil, functions.ErrInvalidAPIParams(fmt.Sprintf("Too many files (at most %d per upload).", uploadMaxFiles), nil)
		}
		data, err := io.ReadAll(io.LimitReader(part, uploadMaxFileSize))
		if err != nil {
			return nil, functions.ErrInvalidAPIParams("Malformed multipart body: "+err.Error(), nil)
		}
		if len(data) >= uploadMaxFileSize {
			return nil, functions.ErrInvalidAPIParams(fmt.Sprintf("Too large file: %s (each file must be smaller than 1 MiB).",
				disp["filename"]), nil)
		}
		files = append(files, uploadedFile{path: disp["filename"], data: data})
	}
	if len(files) == 0 {
		return nil, functions.ErrInvalidAPIParams("No files to upload (send them in the field \"src\").", nil)
	}
	return files, nil
}

// fileAgentError maps a file operation's failure: a path the agent rejects (one escaping the
// working directory, say) is the caller's 400, a missing file a 404, anything else
// kernel-execution-failed.
func fileAgentError(err error) error {
	var re *agentrpc.RemoteError
	if errors.As(err, &re) {
		switch re.Kind {
		case agentrpc.KindInvalidInput:
			return functions.ErrInvalidAPIParams(re.Message, nil)
		case agentrpc.KindNotFound:
			// The kind also covers a kernel the agent does not have, which is no caller's fault.
			if strings.HasSuffix(re.Message, "no such file or directory") {
				return functions.ErrObjectNotFound("file", re.Message)
			}
		}
	}
	return agentError(err, functions.ErrKernelExecutionFailed)
}
