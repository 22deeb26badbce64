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
	// uploadMaxBody bounds the whole request: the files plus their part headers. A larger
	// body is refused (400 generic-bad-request, as Backend.AI answers its 413) after at most
	// this many bytes were read.
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

func registerUpload(s *functions.Server) {
	op := functions.Op(functions.OpSpec{
		ID: "upload-session-files", Method: http.MethodPost, Path: "/session/{session_name}/upload", Tag: tag,
		Summary: "Upload files into a session",
		Description: "Writes files into the working directory of the session's main kernel. The body is " +
			"multipart/form-data with one part per file in the field \"src\"; each part's filename is the " +
			"destination path relative to the working directory (sub-directories are created). At most 20 " +
			"files, each smaller than 1 MiB, with names of at most 255 bytes and paths of at most 4095. A " +
			"file replaces the one at its path; a path naming a directory, or going through a file, is " +
			"refused. Every file is checked before the first is written.",
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
		boundary, err := uploadBoundary(in.ContentType)
		if err != nil {
			return nil, err
		}
		// Check every file, then read them again one at a time to send them: besides the
		// body, one file at most is held in memory.
		if err := eachUpload(in.RawBody, boundary, nil); err != nil {
			return nil, err
		}
		err = eachUpload(in.RawBody, boundary, func(name string, data []byte) error {
			cctx, cancel := context.WithTimeout(ctx, fileCallTimeout)
			defer cancel()
			err := t.Agent.UploadFile(cctx, &agentrpc.UploadFileRequest{KernelID: t.KernelID(), Path: name, Data: data})
			if err != nil {
				return agentError(err, functions.ErrKernelExecutionFailed, "src")
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		return &UploadOutput{}, nil
	})
}

// uploadBoundary returns the multipart boundary of an upload's Content-Type.
func uploadBoundary(contentType string) (string, error) {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return "", functions.ErrInvalidAPIParams("The body must be multipart/form-data with a boundary.", nil)
	}
	return params["boundary"], nil
}

// eachUpload reads the files of a multipart/form-data body, enforcing the count, size and
// path limits, and calls send (when not nil) with each file in turn; data is valid only
// during the call. Parts of other fields are skipped, as are parts without a filename.
func eachUpload(body []byte, boundary string, send func(name string, data []byte) error) error {
	rd := multipart.NewReader(bytes.NewReader(body), boundary)
	n := 0
	var buf bytes.Buffer
	for {
		part, err := rd.NextRawPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return functions.ErrInvalidAPIParams("Malformed multipart body: "+err.Error(), nil)
		}
		// The destination keeps its directories: Part.FileName would reduce it to a base name.
		_, disp, err := mime.ParseMediaType(part.Header.Get("Content-Disposition"))
		if err != nil || disp["name"] != "src" || disp["filename"] == "" {
			continue
		}
		// Backend.AI's client percent-encodes file names ("sub%2Fa.txt") and its server
		// decodes them; the decoded path is then checked like any other.
		name := unquoteFilename(disp["filename"])
		if n == uploadMaxFiles {
			return functions.ErrInvalidAPIParams(fmt.Sprintf("Too many files (at most %d per upload).", uploadMaxFiles), nil)
		}
		n++
		if err := checkKernelPath("src", name); err != nil {
			return err
		}
		buf.Reset()
		size, err := buf.ReadFrom(io.LimitReader(part, uploadMaxFileSize))
		if err != nil {
			return functions.ErrInvalidAPIParams("Malformed multipart body: "+err.Error(), nil)
		}
		if size >= uploadMaxFileSize {
			return functions.ErrInvalidAPIParams(fmt.Sprintf("Too large file: %s (each file must be smaller than 1 MiB).", name),
				map[string]string{"src": name})
		}
		if send != nil {
			if err := send(name, buf.Bytes()); err != nil {
				return err
			}
		}
	}
	if n == 0 {
		return functions.ErrInvalidAPIParams("No files to upload (send them in the field \"src\").", nil)
	}
	return nil
}

// unquoteFilename percent-decodes a multipart file name as Python's urllib.parse.unquote (which
// aiohttp applies) does: each %XX becomes its byte, malformed escapes stay as they are, and the
// bytes are read as UTF-8 with invalid sequences replaced by U+FFFD.
func unquoteFilename(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			if hi, ok := unhex(s[i+1]); ok {
				if lo, ok := unhex(s[i+2]); ok {
					b = append(b, hi<<4|lo)
					i += 2
					continue
				}
			}
		}
		b = append(b, s[i])
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

// unhex is the value of a hexadecimal digit.
func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
