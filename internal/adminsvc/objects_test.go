package adminsvc_test

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/internal/adminsvc"
	"github.com/hangar-run/hangar/internal/config"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
	"github.com/hangar-run/hangar/internal/dbtest"
	"github.com/hangar-run/hangar/internal/hostperm"
)

// objectCalls are one call of every policy, preset, scaling group and image mutation that
// only superadmins may make.
func objectCalls(svc *adminsvc.Service) map[string]func(context.Context, adminsvc.Caller) error {
	one := func(_ any, err error) error { return err }
	p := uuid.New()
	return map[string]func(context.Context, adminsvc.Caller) error{
		"create keypair policy": func(ctx context.Context, c adminsvc.Caller) error {
			return one(svc.CreateKeypairResourcePolicy(ctx, c, adminsvc.KeypairResourcePolicyCreate{Name: "p"}))
		},
		"modify keypair policy": func(ctx context.Context, c adminsvc.Caller) error {
			return one(svc.ModifyKeypairResourcePolicy(ctx, c, "p", adminsvc.KeypairResourcePolicyModify{}))
		},
		"delete keypair policy": func(ctx context.Context, c adminsvc.Caller) error {
			return svc.DeleteKeypairResourcePolicy(ctx, c, "p")
		},
		"create user policy": func(ctx context.Context, c adminsvc.Caller) error {
			return one(svc.CreateUserResourcePolicy(ctx, c, adminsvc.UserResourcePolicyCreate{Name: "p"}))
		},
		"modify user policy": func(ctx context.Context, c adminsvc.Caller) error {
			return one(svc.ModifyUserResourcePolicy(ctx, c, "p", adminsvc.UserResourcePolicyModify{}))
		},
		"delete user policy": func(ctx context.Context, c adminsvc.Caller) error { return svc.DeleteUserResourcePolicy(ctx, c, "p") },
		"create project policy": func(ctx context.Context, c adminsvc.Caller) error {
			return one(svc.CreateProjectResourcePolicy(ctx, c, adminsvc.ProjectResourcePolicyCreate{Name: "p"}))
		},
		"modify project policy": func(ctx context.Context, c adminsvc.Caller) error {
			return one(svc.ModifyProjectResourcePolicy(ctx, c, "p", adminsvc.ProjectResourcePolicyModify{}))
		},
		"delete project policy": func(ctx context.Context, c adminsvc.Caller) error {
			return svc.DeleteProjectResourcePolicy(ctx, c, "p")
		},
		"create preset": func(ctx context.Context, c adminsvc.Caller) error {
			return one(svc.CreateResourcePreset(ctx, c, adminsvc.ResourcePresetCreate{Name: "p", ResourceSlots: map[string]string{"cpu": "1", "mem": "1g"}}))
		},
		"modify preset": func(ctx context.Context, c adminsvc.Caller) error {
			return one(svc.ModifyResourcePreset(ctx, c, "p", adminsvc.ResourcePresetModify{}))
		},
		"delete preset": func(ctx context.Context, c adminsvc.Caller) error { return svc.DeleteResourcePreset(ctx, c, "p") },
		"create scaling group": func(ctx context.Context, c adminsvc.Caller) error {
			return one(svc.CreateScalingGroup(ctx, c, adminsvc.ScalingGroupCreate{Name: "sg"}))
		},
		"modify scaling group": func(ctx context.Context, c adminsvc.Caller) error {
			return one(svc.ModifyScalingGroup(ctx, c, "sg", adminsvc.ScalingGroupModify{}))
		},
		"delete scaling group": func(ctx context.Context, c adminsvc.Caller) error { return svc.DeleteScalingGroup(ctx, c, "sg") },
		"associate domain": func(ctx context.Context, c adminsvc.Caller) error {
			return one(svc.AssociateScalingGroupWithDomain(ctx, c, "sg", "lab"))
		},
		"associate project": func(ctx context.Context, c adminsvc.Caller) error {
			return one(svc.AssociateScalingGroupWithProject(ctx, c, "sg", p))
		},
		"associate keypair": func(ctx context.Context, c adminsvc.Caller) error {
			return one(svc.AssociateScalingGroupWithKeypair(ctx, c, "sg", "AKIANOSUCHKEY0000000"))
		},
		"disassociate domain": func(ctx context.Context, c adminsvc.Caller) error {
			return svc.DisassociateScalingGroupWithDomain(ctx, c, "sg", "lab")
		},
		"disassociate project": func(ctx context.Context, c adminsvc.Caller) error {
			return svc.DisassociateScalingGroupWithProject(ctx, c, "sg", p)
		},
		"disassociate keypair": func(ctx context.Context, c adminsvc.Caller) error {
			return svc.DisassociateScalingGroupWithKeypair(ctx, c, "sg", "AKIANOSUCHKEY0000000")
		},
		"disassociate all domain": func(ctx context.Context, c adminsvc.Caller) error {
			return svc.DisassociateAllScalingGroupsWithDomain(ctx, c, "lab")
		},
		"disassociate all project": func(ctx context.Context, c adminsvc.Caller) error {
			return svc.DisassociateAllScalingGroupsWithProject(ctx, c, p)
		},
		"alias image": func(ctx context.Context, c adminsvc.Caller) error {
			return one(svc.AliasImage(ctx, c, "py", "r/a:1", ""))
		},
		"dealias image": func(ctx context.Context, c adminsvc.Caller) error { return svc.DealiasImage(ctx, c, "py") },
		"clear images":  func(ctx context.Context, c adminsvc.Caller) error { return svc.ClearImages(ctx, c, "r") },
	}
}

// TestObjectMutationsFollowRolesAndFreeze: every policy, preset, scaling group and image
// administration refuses domain admins and users (KindForbidden) and, while the manager is
// frozen, everyone (KindFrozen) before anything else; nothing is written.
func TestObjectMutationsFollowRolesAndFreeze(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.NewDatabase(t).Pool
	status := "running"
	svc := adminsvc.New(adminsvc.Deps{Pool: pool, BcryptCost: 4, ManagerStatus: func() string { return status }})
	admin := adminsvc.Caller{Role: dbsqlc.UserRoleAdmin, Domain: "default", AdminKey: true}
	user := adminsvc.Caller{Role: dbsqlc.UserRoleUser, Domain: "default"}
	super := adminsvc.Caller{Role: dbsqlc.UserRoleSuperadmin, Domain: "default", AdminKey: true}

	for name, call := range objectCalls(svc) {
		for _, c := range []adminsvc.Caller{admin, user} {
			err := call(ctx, c)
			require.True(t, adminsvc.IsKind(err, adminsvc.KindForbidden), "%s as %s: %v", name, c.Role, err)
		}
	}
	status = "frozen"
	for name, call := range objectCalls(svc) {
		require.True(t, adminsvc.IsKind(call(ctx, super), adminsvc.KindFrozen), name)
	}
	var n int
	require.NoError(t, pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM keypair_resource_policies WHERE name = 'p')
		+ (SELECT count(*) FROM resource_presets WHERE name = 'p') + (SELECT count(*) FROM scaling_groups WHERE name = 'sg')`).Scan(&n))
	require.Zero(t, n)

	// The same calls as a superadmin on a running manager reach the database.
	status = "running"
	_, err := svc.CreateScalingGroup(ctx, super, adminsvc.ScalingGroupCreate{Name: "sg"})
	require.NoError(t, err)
	require.True(t, adminsvc.IsKind(svc.DisassociateAllScalingGroupsWithDomain(ctx, super, "lab"), adminsvc.KindNotFound))
}

// TestObjectValidation: bad input is KindInvalid naming the offending key, before any write.
func TestObjectValidation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.NewDatabase(t).Pool
	svc := adminsvc.New(adminsvc.Deps{Pool: pool})
	super := adminsvc.Caller{Role: dbsqlc.UserRoleSuperadmin, Domain: "default", AdminKey: true}
	key := func(err error) string {
		t.Helper()
		e := adminsvc.AsError(err)
		require.NotNil(t, e, "%v", err)
		require.Equal(t, adminsvc.KindInvalid, e.Kind, "%v", err)
		return e.Key
	}
	bad := "SOMETIMES"
	neg := int32(-1)
	_, err := svc.CreateKeypairResourcePolicy(ctx, super, adminsvc.KeypairResourcePolicyCreate{Name: "p", DefaultForUnspecified: &bad})
	require.Equal(t, "default_for_unspecified", key(err))
	_, err = svc.CreateKeypairResourcePolicy(ctx, super, adminsvc.KeypairResourcePolicyCreate{Name: "p", MaxConcurrentSessions: &neg})
	require.Equal(t, "max_concurrent_sessions", key(err))
	_, err = svc.CreateKeypairResourcePolicy(ctx, super, adminsvc.KeypairResourcePolicyCreate{Name: "p", TotalResourceSlots: map[string]string{"cpu": "lots"}})
	require.Equal(t, "total_resource_slots.cpu", key(err))
	_, err = svc.CreateUserResourcePolicy(ctx, super, adminsvc.UserResourcePolicyCreate{Name: "bad name"})
	require.Equal(t, "name", key(err))
	_, err = svc.CreateResourcePreset(ctx, super, adminsvc.ResourcePresetCreate{Name: "p", ResourceSlots: map[string]string{"cpu": "1"}})
	require.Equal(t, "resource_slots.mem", key(err))
	shm := "lots"
	_, err = svc.CreateResourcePreset(ctx, super, adminsvc.ResourcePresetCreate{Name: "p", ResourceSlots: map[string]string{"cpu": "1", "mem": "1g"}, SharedMemory: &shm})
	require.Equal(t, "shared_memory", key(err))
	sched := "random"
	_, err = svc.CreateScalingGroup(ctx, super, adminsvc.ScalingGroupCreate{Name: "sg", Scheduler: &sched})
	require.Equal(t, "scheduler", key(err))
	_, err = svc.CreateScalingGroup(ctx, super, adminsvc.ScalingGroupCreate{Name: "sg", SchedulerOpts: &adminsvc.SchedulerOpts{AllowedSessionTypes: []string{"batch", "batch"}}})
	require.Equal(t, "scheduler_opts.allowed_session_types", key(err))
	_, err = adminsvc.DecodeSchedulerOpts([]byte(`{"pending_timeout": "soon"}`))
	require.Equal(t, "scheduler_opts.pending_timeout", key(err))
	_, err = svc.AliasImage(ctx, super, "-bad-", "r/a:1", "")
	require.Equal(t, "alias", key(err))
	// Domains and projects check host permissions the same way the policies do.
	badHosts := hostperm.Hosts{"local:volume1": {"mount-in-session", "fly"}}
	_, err = svc.CreateDomain(ctx, super, adminsvc.DomainCreate{Name: "dom-hosts", AllowedVfolderHosts: badHosts})
	require.Equal(t, "allowed_vfolder_hosts", key(err))
	dom := "default"
	_, err = svc.CreateProject(ctx, super, adminsvc.ProjectCreate{Name: "proj-hosts", DomainName: &dom, AllowedVfolderHosts: badHosts})
	require.Equal(t, "allowed_vfolder_hosts", key(err))
	var n int
	require.NoError(t, pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM keypair_resource_policies WHERE name = 'p')
		+ (SELECT count(*) FROM resource_presets WHERE name = 'p') + (SELECT count(*) FROM scaling_groups WHERE name = 'sg')`).Scan(&n))
	require.Zero(t, n)
}

// TestImageRules: domain admins may queue rescans and users may not; only the owner of a
// customized image (or a superadmin) forgets it; forgetting takes the aliases along.
func TestImageRules(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.NewDatabase(t).Pool
	svc := adminsvc.New(adminsvc.Deps{Pool: pool})
	owner := uuid.New()
	admin := adminsvc.Caller{Role: dbsqlc.UserRoleAdmin, Domain: "default", AdminKey: true}
	user := adminsvc.Caller{UserUUID: owner, Role: dbsqlc.UserRoleUser, Domain: "default"}
	other := adminsvc.Caller{UserUUID: uuid.New(), Role: dbsqlc.UserRoleUser, Domain: "default"}
	super := adminsvc.Caller{Role: dbsqlc.UserRoleSuperadmin, Domain: "default", AdminKey: true}
	regs := []config.ContainerRegistry{{Name: "cr.example.com", URL: "https://cr.example.com"}}

	_, err := svc.RescanImages(ctx, user, "cr.example.com", regs)
	require.True(t, adminsvc.IsKind(err, adminsvc.KindForbidden), "%v", err)
	_, err = svc.RescanImages(ctx, admin, "elsewhere", regs)
	require.True(t, adminsvc.IsKind(err, adminsvc.KindInvalid), "%v", err)
	_, err = svc.RescanImages(ctx, admin, "", nil)
	require.True(t, adminsvc.IsKind(err, adminsvc.KindInvalid), "%v", err)

	_, err = pool.Exec(ctx, `INSERT INTO images (name, image, tag, registry, architecture, labels) VALUES
		('r/mine:1', 'mine', '1', 'r', 'x86_64', jsonb_build_object('ai.backend.customized-image.owner', 'user:' || $1::text)),
		('r/base:1', 'base', '1', 'r', 'x86_64', '{}')`, owner.String())
	require.NoError(t, err)
	_, err = svc.AliasImage(ctx, super, "mine", "r/mine:1", "")
	require.NoError(t, err)

	_, err = svc.ForgetImage(ctx, other, "r/mine:1", "x86_64")
	e := adminsvc.AsError(err)
	require.NotNil(t, e)
	require.Equal(t, adminsvc.KindForbidden, e.Kind)
	require.Equal(t, "image", e.Object)
	_, err = svc.ForgetImage(ctx, user, "r/base:1", "x86_64")
	require.True(t, adminsvc.IsKind(err, adminsvc.KindForbidden), "%v", err)
	_, err = svc.ForgetImage(ctx, user, "r/nope:1", "x86_64")
	require.True(t, adminsvc.IsKind(err, adminsvc.KindNotFound), "%v", err)

	// The owner forgets it by its alias; the alias goes with it.
	img, err := svc.ForgetImage(ctx, user, "mine", "amd64")
	require.NoError(t, err)
	require.Equal(t, "r/mine:1", img.Name)
	require.True(t, adminsvc.IsKind(svc.DealiasImage(ctx, super, "mine"), adminsvc.KindNotFound))

	var base uuid.UUID
	require.NoError(t, pool.QueryRow(ctx, `SELECT id FROM images WHERE name = 'r/base:1'`).Scan(&base))
	img, err = svc.ForgetImageByID(ctx, super, base)
	require.NoError(t, err)
	require.Equal(t, base, img.ID)
	_, err = svc.ForgetImageByID(ctx, super, base)
	require.True(t, adminsvc.IsKind(err, adminsvc.KindNotFound), "%v", err)
}
