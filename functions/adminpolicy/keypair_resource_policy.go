package adminpolicy

import (
	"time"

	"github.com/hangar-run/hangar/internal/db/dbsqlc"
	"github.com/hangar-run/hangar/internal/hostperm"
)

// KeypairResourcePolicy limits what the sessions of the keypairs under it may use.
type KeypairResourcePolicy struct {
	Name                           string                           `json:"name" doc:"Policy name." example:"default"`
	CreatedAt                      time.Time                        `json:"created_at" doc:"When the policy was created."`
	DefaultForUnspecified          string                           `json:"default_for_unspecified" enum:"LIMITED,UNLIMITED" doc:"Limit of the known slots missing from total_resource_slots: LIMITED means zero, UNLIMITED means no limit."`
	TotalResourceSlots             map[string]string                `json:"total_resource_slots" doc:"Most resources all sessions of a keypair may occupy together: slot → decimal amount (bytes for memory) or \"Infinity\"." example:"{\"cpu\":\"8\",\"mem\":\"17179869184\"}"`
	MaxSessionLifetime             int32                            `json:"max_session_lifetime" doc:"Seconds a session may live; 0 means no limit."`
	MaxConcurrentSessions          int32                            `json:"max_concurrent_sessions" doc:"Most sessions a keypair may run at once."`
	MaxPendingSessionCount         *int32                           `json:"max_pending_session_count" nullable:"true" doc:"Most sessions a keypair may have pending; null means no limit."`
	MaxPendingSessionResourceSlots map[string]string                `json:"max_pending_session_resource_slots" nullable:"true" doc:"Most resources the pending sessions of a keypair may request together; null means no limit."`
	MaxConcurrentSftpSessions      int32                            `json:"max_concurrent_sftp_sessions" doc:"Most SFTP (system) sessions a keypair may run at once."`
	MaxContainersPerSession        int32                            `json:"max_containers_per_session" doc:"Most containers (kernels) one session may have."`
	IdleTimeout                    int64                            `json:"idle_timeout" doc:"Seconds of inactivity before a session is terminated; 0 means never, a negative value defers to the shared configuration."`
	AllowedVfolderHosts            map[string][]hostperm.Permission `json:"allowed_vfolder_hosts" doc:"Storage hosts the keypair may use, each with the permissions granted on it." example:"{\"local:volume1\":[\"create-vfolder\",\"mount-in-session\"]}"`
}

// KeypairResourcePolicyList is a page of keypair resource policies.
type KeypairResourcePolicyList struct {
	Items      []KeypairResourcePolicy `json:"items" doc:"The policies of this page, by name."`
	TotalCount int64                   `json:"total_count" doc:"Number of policies in all pages."`
}

type keypairResourcePolicyOutput struct {
	Body KeypairResourcePolicy
}

// keypairResourcePolicyFromRow converts a database row.
func keypairResourcePolicyFromRow(r *dbsqlc.KeypairResourcePolicy) (KeypairResourcePolicy, error) {
	total, err := decodeSlotsNonNil(r.TotalResourceSlots)
	if err != nil {
		return KeypairResourcePolicy{}, err
	}
	pending, err := decodeSlots(r.MaxPendingSessionResourceSlots)
	if err != nil {
		return KeypairResourcePolicy{}, err
	}
	hosts, err := hostperm.Decode(r.AllowedVfolderHosts)
	if err != nil {
		return KeypairResourcePolicy{}, err
	}
	return KeypairResourcePolicy{
		Name:                           r.Name,
		CreatedAt:                      r.CreatedAt,
		DefaultForUnspecified:          string(r.DefaultForUnspecified),
		TotalResourceSlots:             total,
		MaxSessionLifetime:             r.MaxSessionLifetime,
		MaxConcurrentSessions:          r.MaxConcurrentSessions,
		MaxPendingSessionCount:         r.MaxPendingSessionCount,
		MaxPendingSessionResourceSlots: pending,
		MaxConcurrentSftpSessions:      r.MaxConcurrentSftpSessions,
		MaxContainersPerSession:        r.MaxContainersPerSession,
		IdleTimeout:                    r.IdleTimeout,
		AllowedVfolderHosts:            hosts,
	}, nil
}
