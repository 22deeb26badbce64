package adminpolicy

import (
	"context"

	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/adminsvc"
	"github.com/hangar-run/hangar/internal/hostperm"
)

// KeypairResourcePolicyUpdate is the body of update-keypair-resource-policy: only the fields
// given change.
type KeypairResourcePolicyUpdate struct {
	DefaultForUnspecified          *string                          `json:"default_for_unspecified,omitempty" enum:"LIMITED,UNLIMITED" doc:"Limit of the known slots missing from total_resource_slots."`
	TotalResourceSlots             map[string]string                `json:"total_resource_slots,omitempty" doc:"Replaces the total resource limits: known slot → amount or \"Infinity\"."`
	MaxSessionLifetime             *int32                           `json:"max_session_lifetime,omitempty" minimum:"0" doc:"Seconds a session may live; 0 means no limit."`
	MaxConcurrentSessions          *int32                           `json:"max_concurrent_sessions,omitempty" minimum:"0" doc:"Most sessions a keypair may run at once."`
	MaxPendingSessionCount         Optional[int32]                  `json:"max_pending_session_count,omitempty" minimum:"0" doc:"Most sessions a keypair may have pending; null removes the limit."`
	MaxPendingSessionResourceSlots Optional[map[string]string]      `json:"max_pending_session_resource_slots,omitempty" doc:"Replaces the pending resource limits; null removes them."`
	MaxConcurrentSftpSessions      *int32                           `json:"max_concurrent_sftp_sessions,omitempty" minimum:"0" doc:"Most SFTP (system) sessions a keypair may run at once."`
	MaxContainersPerSession        *int32                           `json:"max_containers_per_session,omitempty" minimum:"1" doc:"Most containers (kernels) one session may have."`
	IdleTimeout                    *int64                           `json:"idle_timeout,omitempty" doc:"Seconds of inactivity before a session is terminated; 0 means never, a negative value defers to the shared configuration."`
	AllowedVfolderHosts            map[string][]hostperm.Permission `json:"allowed_vfolder_hosts,omitempty" doc:"Replaces the storage hosts and their permissions."`
}

func registerUpdateKeypairResourcePolicy(s *functions.Server) {
	type input struct {
		NameParam
		Body KeypairResourcePolicyUpdate
	}
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "update-keypair-resource-policy", Method: http.MethodPatch, Path: "/admin/keypair-resource-policies/{name}",
		Summary:     "Update a keypair resource policy",
		Description: "Changes the fields given and leaves the others. Maps (total_resource_slots, max_pending_session_resource_slots, allowed_vfolder_hosts) are replaced as a whole.",
		Tag:         tag, Role: functions.Superadmin, Frozen: functions.ServiceGuarded,
		Errors: []int{http.StatusNotFound, http.StatusServiceUnavailable},
	}), func(ctx context.Context, in *input) (*keypairResourcePolicyOutput, error) {
		b := in.Body
		mod := adminsvc.KeypairResourcePolicyModify{
			DefaultForUnspecified:             b.DefaultForUnspecified,
			TotalResourceSlots:                b.TotalResourceSlots,
			MaxSessionLifetime:                b.MaxSessionLifetime,
			MaxConcurrentSessions:             b.MaxConcurrentSessions,
			SetMaxPendingSessionCount:         b.MaxPendingSessionCount.Set,
			MaxPendingSessionCount:            b.MaxPendingSessionCount.ptr(),
			SetMaxPendingSessionResourceSlots: b.MaxPendingSessionResourceSlots.Set,
			MaxConcurrentSftpSessions:         b.MaxConcurrentSftpSessions,
			MaxContainersPerSession:           b.MaxContainersPerSession,
			IdleTimeout:                       b.IdleTimeout,
			AllowedVfolderHosts:               b.AllowedVfolderHosts,
		}
		if m := b.MaxPendingSessionResourceSlots.ptr(); m != nil {
			mod.MaxPendingSessionResourceSlots = *m
		}
		row, err := s.AdminService().ModifyKeypairResourcePolicy(ctx, svcCaller(ctx), in.Name, mod)
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
