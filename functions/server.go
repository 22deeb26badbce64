package functions

import (
	"context"
	"net/http"
	"sync"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
	"github.com/rs/cors"
)

// Server is the huma API with Hangar's HTTP policy installed. API areas register their
// operations on API(); Handler() serves them.
type Server struct {
	deps    *Deps
	mux     *http.ServeMux
	api     huma.API
	handler http.Handler
	streams *streamSlots

	// done is closed by Shutdown; long-lived handlers (WebSocket streams) watch it.
	done     chan struct{}
	shutdown sync.Once
}

// Title and Version of the OpenAPI document.
const (
	DocTitle   = "Hangar API"
	DocVersion = APIVersion
)

func init() {
	huma.NewError = newError
}

// NewServer builds the server. deps may be partially empty for document generation.
func NewServer(deps *Deps) *Server {
	mux := http.NewServeMux()
	cfg := huma.DefaultConfig(DocTitle, DocVersion)
	cfg.Info.Description = "Hangar is a control plane for compute sessions. It speaks the Backend.AI Manager " +
		"24.03 REST API (v8.20240315), so Backend.AI clients work unchanged, and adds administration over REST.\n\n" +
		"Requests are signed with Backend.AI's HMAC scheme: `Authorization: BackendAI signMethod=HMAC-SHA256, " +
		"credential=<access key>:<signature>`, with `Date` and `X-BackendAI-Version` headers. " +
		"Errors are `application/problem+json` objects `{type, title, msg?, data?}` whose `type` is a " +
		"`https://api.backend.ai/probs/<slug>` URI."
	cfg.CreateHooks = nil // no $schema links: Backend.AI clients expect plain objects
	cfg.Components.SecuritySchemes = map[string]*huma.SecurityScheme{
		SecurityScheme: {
			Type: "apiKey",
			In:   "header",
			Name: "Authorization",
			Description: "Backend.AI HMAC request signature. The scope names the least role the operation needs: " +
				"`user` (any main keypair), `admin` (keypair is_admin), `superadmin` (user role superadmin). " +
				"A role failure is 401 auth-failed.",
		},
	}
	api := humago.New(mux, cfg)
	s := &Server{deps: deps, mux: mux, api: api, streams: newStreamSlots(deps.Metrics), done: make(chan struct{})}
	api.UseMiddleware(s.observeMiddleware, s.authMiddleware, s.paramsMiddleware)

	c := cors.New(cors.Options{
		AllowedOrigins:   []string{"*"},
		AllowedMethods:   []string{"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"},
		AllowedHeaders:   []string{"*"},
		ExposedHeaders:   []string{"*"},
		AllowCredentials: false,
	})
	s.handler = withRecover(deps.Log(), newHTTPMetrics(deps.Metrics),
		withBodyDeadline(s.bodyReadTimeout, c.Handler(withCompat(withRouterErrors(mux)))))
	registerRoot(s)
	return s
}

// Finalize adjusts the OpenAPI document once every operation is registered: parameter
// aliases are documented (see Aliases), and a Backend.AI parameter body whose keys are all
// optional is documented as optional (the server reads the query string, or an empty object,
// when none is sent).
func (s *Server) Finalize() {
	for _, item := range s.api.OpenAPI().Paths {
		for _, op := range []*huma.Operation{item.Get, item.Put, item.Post, item.Delete, item.Patch, item.Head} {
			if op == nil {
				continue
			}
			// Validation failures are answered as 400 invalid-api-params, never 422.
			if r, ok := op.Responses["422"]; ok {
				delete(op.Responses, "422")
				if _, has := op.Responses["400"]; !has {
					r.Description = "Bad Request"
					op.Responses["400"] = r
				}
			}
			s.documentAliases(op)
			if !opParams(op) || op.RequestBody == nil {
				continue
			}
			if sch := s.bodySchema(op); sch != nil && len(sch.Required) == 0 {
				op.RequestBody.Required = false
			}
		}
	}
}

// API is the huma API operations register on.
func (s *Server) API() huma.API { return s.api }

// Deps are the server's dependencies.
func (s *Server) Deps() *Deps { return s.deps }

// Mux is the underlying ServeMux, for handlers outside huma (dashboards, metrics).
func (s *Server) Mux() *http.ServeMux { return s.mux }

// Handler serves every request through the pipeline described in the package doc.
func (s *Server) Handler() http.Handler { return s.handler }

// Shutdown tells long-lived handlers that the server is going down: WebSocket streams, which
// http.Server.Shutdown does not track, tell their clients and close. Register it with
// http.Server.RegisterOnShutdown. It is safe to call more than once.
func (s *Server) Shutdown() { s.shutdown.Do(func() { close(s.done) }) }

// Done is closed once Shutdown was called.
func (s *Server) Done() <-chan struct{} { return s.done }

// VersionOutput is the answer of GET /.
type VersionOutput struct {
	Body struct {
		Version string `json:"version" example:"v8.20240315" doc:"Latest API version the server speaks."`
		Manager string `json:"manager" example:"24.03.2" doc:"Backend.AI Manager release whose API Hangar follows."`
	}
}

func registerRoot(s *Server) {
	hello := func(context.Context, *struct{}) (*VersionOutput, error) {
		out := &VersionOutput{}
		out.Body.Version = APIVersion
		out.Body.Manager = ManagerVersion
		return out, nil
	}
	huma.Register(s.api, Op(OpSpec{
		ID: "get-version", Method: http.MethodGet, Path: "/", Tag: "system",
		Summary:     "API and manager version",
		Description: "Clients probe this unsigned to negotiate the API version.",
	}), hello)
}
