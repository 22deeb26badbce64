package adminsvc_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/internal/adminsvc"
	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
	"github.com/hangar-run/hangar/internal/dbtest"
)

// TestSuperadminOnlyMutations: domain mutations refuse domain admins and users with
// KindForbidden before touching anything, and accept superadmins.
func TestSuperadminOnlyMutations(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.NewDatabase(t).Pool
	svc := adminsvc.New(adminsvc.Deps{Pool: pool, BcryptCost: 4})
	admin := adminsvc.Caller{Role: dbsqlc.UserRoleAdmin, Domain: "default", AdminKey: true}
	user := adminsvc.Caller{Role: dbsqlc.UserRoleUser, Domain: "default"}
	super := adminsvc.Caller{Role: dbsqlc.UserRoleSuperadmin, Domain: "default", AdminKey: true}

	for _, c := range []adminsvc.Caller{admin, user} {
		_, err := svc.CreateDomain(ctx, c, adminsvc.DomainCreate{Name: "lab"})
		require.True(t, adminsvc.IsKind(err, adminsvc.KindForbidden), "%v", err)
		_, err = svc.ModifyDomain(ctx, c, "lab", adminsvc.DomainModify{})
		require.True(t, adminsvc.IsKind(err, adminsvc.KindForbidden), "%v", err)
		require.True(t, adminsvc.IsKind(svc.DeleteDomain(ctx, c, "lab"), adminsvc.KindForbidden))
		require.True(t, adminsvc.IsKind(svc.PurgeDomain(ctx, c, "lab"), adminsvc.KindForbidden))
	}
	_, err := db.Q.DomainGetByName(ctx, pool, "lab")
	require.True(t, db.IsNotFound(err))

	d, err := svc.CreateDomain(ctx, super, adminsvc.DomainCreate{Name: "lab", TotalResourceSlots: map[string]string{"mem": "1g"}})
	require.NoError(t, err)
	require.Equal(t, "lab", d.Name)
	require.JSONEq(t, `{"mem":"1073741824"}`, string(d.TotalResourceSlots))

	// A user who is not a domain admin is refused project writes even in their own domain,
	// and so is an admin signing with a keypair that is not an admin keypair; a domain admin
	// is refused outside their domain and accepted in it.
	plainAdminDomain := "lab"
	user.Domain = "lab"
	_, err = svc.CreateProject(ctx, user, adminsvc.ProjectCreate{Name: "p"})
	require.True(t, adminsvc.IsKind(err, adminsvc.KindForbidden), "%v", err)
	plainAdmin := admin
	plainAdmin.AdminKey, plainAdmin.Domain = false, plainAdminDomain
	_, err = svc.CreateProject(ctx, plainAdmin, adminsvc.ProjectCreate{Name: "p"})
	require.True(t, adminsvc.IsKind(err, adminsvc.KindForbidden), "%v", err)
	lab := "lab"
	_, err = svc.CreateProject(ctx, admin, adminsvc.ProjectCreate{Name: "p", DomainName: &lab})
	require.True(t, adminsvc.IsKind(err, adminsvc.KindForbidden), "%v", err)
	_, err = pool.Exec(ctx, "INSERT INTO project_resource_policies (name) VALUES ('default')")
	require.NoError(t, err)
	labAdmin := admin
	labAdmin.Domain = "lab"
	p, err := svc.CreateProject(ctx, labAdmin, adminsvc.ProjectCreate{Name: "p"})
	require.NoError(t, err)
	require.Equal(t, "lab", p.DomainName)
}

// TestErrorsCarryKindKeyAndCause: validation names the offending input, database refusals
// keep their cause, and a frozen manager refuses before anything else.
func TestErrorsCarryKindKeyAndCause(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.NewDatabase(t).Pool
	status := "running"
	svc := adminsvc.New(adminsvc.Deps{Pool: pool, BcryptCost: 4, ManagerStatus: func() string { return status }})
	super := adminsvc.Caller{Role: dbsqlc.UserRoleSuperadmin, Domain: "default", AdminKey: true}

	_, err := svc.CreateDomain(ctx, super, adminsvc.DomainCreate{Name: "x", TotalResourceSlots: map[string]string{"cpu": "lots"}})
	e := adminsvc.AsError(err)
	require.NotNil(t, e)
	require.Equal(t, adminsvc.KindInvalid, e.Kind)
	require.Equal(t, "total_resource_slots.cpu", e.Key)

	_, err = svc.CreateDomain(ctx, super, adminsvc.DomainCreate{Name: "dup"})
	require.NoError(t, err)
	_, err = svc.CreateDomain(ctx, super, adminsvc.DomainCreate{Name: "dup"})
	e = adminsvc.AsError(err)
	require.NotNil(t, e)
	require.Equal(t, adminsvc.KindConflict, e.Kind)
	require.Equal(t, "domain", e.Object)
	require.ErrorIs(t, err, db.ErrConflict)

	_, err = svc.ModifyKeypair(ctx, super, "AKIANOSUCHKEY0000000", adminsvc.KeypairModify{})
	require.True(t, adminsvc.IsKind(err, adminsvc.KindNotFound), "%v", err)

	status = "frozen"
	_, err = svc.CreateDomain(ctx, super, adminsvc.DomainCreate{Name: "bad name!"})
	e = adminsvc.AsError(err)
	require.NotNil(t, e)
	require.Equal(t, adminsvc.KindFrozen, e.Kind)
	require.Equal(t, adminsvc.FrozenMessage, e.Msg)
	_, err = svc.DeactivateKeypair(ctx, super, "AKIANOSUCHKEY0000000")
	require.True(t, adminsvc.IsKind(err, adminsvc.KindFrozen), "%v", err)
}
