package session

import (
	"bytes"
	"context"
	"mime/multipart"
	"net/http"
	"net/textproto"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/agentrpc"
)

type downloadInput struct {
	SessionName string `path:"session_name" doc:"Session id or name." example:"my-session"`
	Body        struct {
		Files []string `json:"files" minItems:"1" maxItems:"5" doc:"Paths to download, relative to the working directory (files or directories, at most 5)." example:"[\"output.txt\"]"`
	}
}

// DownloadOutput is the multipart/mixed answer of GET /session/{session_name}/download.
type DownloadOutput struct {
	ContentType string `header:"Content-Type" doc:"multipart/mixed with its boundary."`
	Body        []byte `doc:"One application/octet-stream part per requested path, each a tar archive of it."`
}

type downloadSingleInput struct {
	SessionName string `path:"session_name" doc:"Session id or name." example:"my-session"`
	Body        struct {
		File string `json:"file" minLength:"1" doc:"Path of the file, relative to the working directory." example:"output.txt"`
	}
}

// DownloadSingleOutput is the raw file of GET /session/{session_name}/download_single.
type DownloadSingleOutput struct {
	ContentType string `header:"Content-Type" doc:"application/octet-stream."`
	Body        []byte `doc:"The file's bytes."`
}

func registerDownload(s *functions.Server) {
	op := functions.Op(functions.OpSpec{
		ID: "download-session-files", Method: http.MethodGet, Path: "/session/{session_name}/download", Tag: tag,
		Summary: "Download files from a session",
		Description: "Reads up to 5 files or directories out of the session's main kernel. The answer is " +
			"multipart/mixed with one part per path, in request order, each a tar archive of that path.",
		Role: functions.User, Frozen: functions.ReadAllowed, Params: true, Errors: []int{404},
	})
	op.Responses = map[string]*huma.Response{"200": {
		Description: "One tar archive per requested path.",
		Content:     map[string]*huma.MediaType{"multipart/mixed": {Schema: &huma.Schema{Type: "string", Format: "binary"}}},
	}}
	huma.Register(s.API(), op, func(ctx context.Context, in *downloadInput) (*DownloadOutput, error) {
		id := functions.IdentityFrom(ctx)
		t, err := findTarget(ctx, s, id.AccessKey, in.SessionName, true)
		if err != nil {
			return nil, err
		}
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		for _, p := range in.Body.Files {
			cctx, cancel := context.WithTimeout(ctx, fileCallTimeout)
			rep, err := t.Agent.DownloadFile(cctx, &agentrpc.DownloadFileRequest{KernelID: t.KernelID(), Path: p, Archive: true})
			cancel()
			if err != nil {
				return nil, fileAgentError(err)
			}
			w, err := mw.CreatePart(textproto.MIMEHeader{"Content-Type": {"application/octet-stream"}})
			if err != nil {
				return nil, functions.ErrInternal("write download part: " + err.Error())
			}
			_, _ = w.Write(rep.Data)
		}
		if err := mw.Close(); err != nil {
			return nil, functions.ErrInternal("write download: " + err.Error())
		}
		return &DownloadOutput{ContentType: "multipart/mixed; boundary=" + mw.Boundary(), Body: buf.Bytes()}, nil
	})
}

func registerDownloadSingle(s *functions.Server) {
	op := functions.Op(functions.OpSpec{
		ID: "download-session-file", Method: http.MethodGet, Path: "/session/{session_name}/download_single", Tag: tag,
		Summary:     "Download one file from a session",
		Description: "Reads one file out of the session's main kernel and answers its raw bytes.",
		Role:        functions.User, Frozen: functions.ReadAllowed, Params: true, Errors: []int{404},
	})
	op.Responses = map[string]*huma.Response{"200": {
		Description: "The file's bytes.",
		Content:     map[string]*huma.MediaType{"application/octet-stream": {Schema: &huma.Schema{Type: "string", Format: "binary"}}},
	}}
	huma.Register(s.API(), op, func(ctx context.Context, in *downloadSingleInput) (*DownloadSingleOutput, error) {
		id := functions.IdentityFrom(ctx)
		t, err := findTarget(ctx, s, id.AccessKey, in.SessionName, true)
		if err != nil {
			return nil, err
		}
		cctx, cancel := context.WithTimeout(ctx, fileCallTimeout)
		defer cancel()
		rep, err := t.Agent.DownloadFile(cctx, &agentrpc.DownloadFileRequest{KernelID: t.KernelID(), Path: in.Body.File})
		if err != nil {
			return nil, fileAgentError(err)
		}
		return &DownloadSingleOutput{ContentType: "application/octet-stream", Body: rep.Data}, nil
	})
}
