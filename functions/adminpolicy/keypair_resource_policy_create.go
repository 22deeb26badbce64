package adminpolicy

import (
	"context"

	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/adminsvc"
	"github.com/hangar-run/hangar/internal/hostperm"
)

// KeypairResourcePolicyCreate is the body of create-keypair-resource-policy.
type KeypairResourcePolicyCreate struct {
	Name                           string                           `json:"name" minLength:"1" maxLength:"256" pattern:"^[a-zA-Z0-9]([a-zA-Z0-9._-]*[a-zA-Z0-9])?$" doc:"Policy name, unique: ASCII letters, digits, '.', '_' and '-', starting and ending with a letter or digit." example:"gpu-team"`
	DefaultForUnspecified          *string                          `json:"default_for_unspecified,omitempty" enum:"LIMITED,UNLIMITED" default:"LIMITED" doc:"Limit of the known slots missing from total_resource_slots: LIMITED means zero, UNLIMITED means no limit."`
	TotalResourceSlots             map[string]string                `json:"total_resource_slots,omitempty" doc:"Most resources all sessions of a keypair may occupy together: known slot → amount. Memory-like (bytes) slots take binary sizes such as \"16g\"; \"Infinity\" means no limit. Default {}." example:"{\"cpu\":\"8\",\"mem\":\"16g\"}"`
	MaxSessionLifetime             *int32                           `json:"max_session_lifetime,omitempty" minimum:"0" default:"0" doc:"Seconds a session may live; 0 means no limit."`
	MaxConcurrentSessions          *int32                           `json:"max_concurrent_sessions,omitempty" minimum:"0" default:"0" doc:"Most sessions a keypair may run at once."`
	MaxPendingSessionCount         *int32                           `json:"max_pending_session_count,omitempty" nullable:"true" minimum:"0" doc:"Most sessions a keypair may have pending; null or absent means no limit."`
	MaxPendingSessionResourceSlots map[string]string                `json:"max_pending_session_resource_slots,omitempty" nullable:"true" doc:"Most resources the pending sessions of a keypair may request together; null or absent means no limit."`
	MaxConcurrentSftpSessions      *int32                           `json:"max_concurrent_sftp_sessions,omitempty" minimum:"0" default:"1" doc:"Most SFTP (system) sessions a keypair may run at once."`
	MaxContainersPerSession        *int32                           `json:"max_containers_per_session,omitempty" minimum:"1" default:"1" doc:"Most containers (kernels) one session may have."`
	IdleTimeout                    *int64                           `json:"idle_timeout,omitempty" default:"0" doc:"Seconds of inactivity before a session is terminated; 0 means never, a negative value defers to the shared configuration."`
	AllowedVfolderHosts            map[string][]hostperm.Permission `json:"allowed_vfolder_hosts,omitempty" doc:"Storage hosts the keypair may use, each with the permissions granted on it. Default {}."`
}

func registerCreateKeypairResourcePolicy(s *functions.Server) {
	type input struct {
		Body KeypairResourcePolicyCreate
	}
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "create-keypair-resource-policy", Method: http.MethodPost, Path: "/admin/keypair-resource-policies",
		Summary:     "Create a keypair resource policy",
		Description: "Creates a keypair resource policy. Resource slots must be known slots; their amounts are normalized (binary sizes become bytes, counts keep three decimals).",
		Tag:         tag, Role: functions.Superadmin, Frozen: functions.ServiceGuarded, Status: http.StatusCreated,
		Errors: []int{http.StatusServiceUnavailable},
	}), func(ctx context.Context, in *input) (*keypairResourcePolicyOutput, error) {
		b := in.Body
		row, err := s.AdminService().CreateKeypairResourcePolicy(ctx, svcCaller(ctx), adminsvc.KeypairResourcePolicyCreate{
			Name:                           b.Name,
			DefaultForUnspecified:          b.DefaultForUnspecified,
			TotalResourceSlots:             b.TotalResourceSlots,
			MaxSessionLifetime:             b.MaxSessionLifetime,
			MaxConcurrentSessions:          b.MaxConcurrentSessions,
			MaxPendingSessionCount:         b.MaxPendingSessionCount,
			MaxPendingSessionResourceSlots: b.MaxPendingSessionResourceSlots,
			MaxConcurrentSftpSessions:      b.MaxConcurrentSftpSessions,
			MaxContainersPerSession:        b.MaxContainersPerSession,
			IdleTimeout:                    b.IdleTimeout,
			AllowedVfolderHosts:            b.AllowedVfolderHosts,
		})
		if err != nil {
			return nil, functions.FromService(err)
		}
		p, err := keypairResourcePolicyFromRow(row)
		if err != nil {
			return nil, err
		}
		return &keypairResourcePolicyOutput{Body: p}, nil
	})
}
