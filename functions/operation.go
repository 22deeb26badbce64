package functions

import (
	"net/http"
	"slices"

	"github.com/danielgtaylor/huma/v2"
)

// Role is the least a caller must be for an operation (Backend.AI's auth decorators).
type Role int

const (
	// Public operations skip authentication entirely, even with an Authorization header.
	Public Role = iota
	// User operations need a signed request made with a user's main access key.
	User
	// Admin operations also need the keypair's is_admin flag (Backend.AI's admin_required).
	Admin
	// Superadmin operations need the user's role to be superadmin.
	Superadmin
)

func (r Role) String() string {
	switch r {
	case User:
		return "user"
	case Admin:
		return "admin"
	case Superadmin:
		return "superadmin"
	}
	return "public"
}

// Frozen says how an operation behaves while the manager is frozen.
type Frozen int

const (
	// FrozenIgnored operations work whatever the manager status is.
	FrozenIgnored Frozen = iota
	// ReadAllowed operations work while frozen (Backend.AI's READ_ALLOWED).
	ReadAllowed
	// WriteOp operations are refused with 503 server-frozen while frozen (ALL_ALLOWED).
	WriteOp
)

// SecurityScheme is the name of the Backend.AI HMAC scheme in the OpenAPI document.
const SecurityScheme = "BackendAI"

const (
	metaRole    = "hangar-role"
	metaFrozen  = "hangar-frozen"
	metaParams  = "hangar-bai-params"
	metaAliases = "hangar-bai-aliases"
)

// OpSpec describes an operation in Backend.AI's terms; Op turns it into a huma.Operation.
type OpSpec struct {
	ID          string
	Method      string
	Path        string
	Summary     string
	Description string
	Tag         string
	Role        Role
	Frozen      Frozen
	// Status is the success status (default 200).
	Status int
	// Params marks Backend.AI parameter handling: the JSON body is read on any method, and the
	// query string stands in for it when there is no body.
	Params bool
	// Errors lists the error statuses to document besides the ones Role and Frozen imply.
	Errors []int
	// MaxBodyBytes bounds the request body (DefaultMaxBodyBytes when zero); a larger body is
	// 400 generic-bad-request.
	MaxBodyBytes int64
	// Aliases are the other names Backend.AI accepts for body keys; the params layer renames
	// them to the canonical names before validation, so the body type declares only those.
	Aliases Aliases
}

// Op builds the huma.Operation for s: operation id, tag, security requirement with the role as
// scope, documented errors, and the metadata the middlewares act on.
func Op(s OpSpec) huma.Operation {
	op := huma.Operation{
		OperationID:   s.ID,
		Method:        s.Method,
		Path:          s.Path,
		Summary:       s.Summary,
		Description:   s.Description,
		Tags:          []string{s.Tag},
		DefaultStatus: s.Status,
		// huma's own body read deadline stays on the connection after the body is read and
		// then cancels the request, which would cut long polls (maxWaitSeconds, execute, event
		// streams) short. The body deadline is the server's instead (withBodyDeadline), lifted
		// once the body has been read; huma's attempts to set one are ignored (bodyContext).
		BodyReadTimeout: -1,
		MaxBodyBytes:    s.MaxBodyBytes,
		Metadata: map[string]any{
			metaRole:    s.Role,
			metaFrozen:  s.Frozen,
			metaParams:  s.Params,
			metaAliases: compileAliases(s.Aliases),
		},
	}
	if op.MaxBodyBytes <= 0 {
		op.MaxBodyBytes = DefaultMaxBodyBytes
	}
	errs := map[int]bool{http.StatusInternalServerError: true}
	for _, e := range s.Errors {
		errs[e] = true
	}
	if s.Params || s.Method == http.MethodPost || s.Method == http.MethodPut || s.Method == http.MethodPatch {
		errs[http.StatusBadRequest] = true
	}
	if s.Role != Public {
		op.Security = []map[string][]string{{SecurityScheme: {s.Role.String()}}}
		errs[http.StatusBadRequest] = true
		errs[http.StatusUnauthorized] = true
		errs[http.StatusTooManyRequests] = true
	} else {
		op.Security = []map[string][]string{}
	}
	if s.Frozen == WriteOp {
		errs[http.StatusServiceUnavailable] = true
	}
	for code := range errs {
		op.Errors = append(op.Errors, code)
	}
	slices.Sort(op.Errors)
	return op
}

func opRole(op *huma.Operation) Role {
	if op == nil {
		return Public
	}
	r, _ := op.Metadata[metaRole].(Role)
	return r
}

func opFrozen(op *huma.Operation) Frozen {
	if op == nil {
		return FrozenIgnored
	}
	f, _ := op.Metadata[metaFrozen].(Frozen)
	return f
}

func opParams(op *huma.Operation) bool {
	if op == nil {
		return false
	}
	p, _ := op.Metadata[metaParams].(bool)
	return p
}

func opAliases(op *huma.Operation) *aliasTable {
	if op == nil {
		return nil
	}
	t, _ := op.Metadata[metaAliases].(*aliasTable)
	return t
}
