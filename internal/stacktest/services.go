package stacktest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/internal/config"
	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/dbtest"
)

// serviceUp bounds the wait for a private server to accept connections.
const serviceUp = 30 * time.Second

// PrivatePostgres is a PostgreSQL cluster of one test, on a loopback port of its own, so the
// test may stop and restart it (the shared halfstack's server is never touched). It requires
// password authentication (scram-sha-256) like the halfstack's.
type PrivatePostgres struct {
	// Port is the TCP port on 127.0.0.1.
	Port int
	// User and Password are the superuser's credentials.
	User, Password string

	bin  string
	dir  string // owned by the server's OS user; data/ below it
	cred *syscall.Credential

	mu   sync.Mutex
	proc *Proc
}

// StartPostgres creates a cluster (initdb) in a directory of its own and starts it. The
// cluster is stopped and removed when t ends. As root, the server runs as the postgres user.
func StartPostgres(t testing.TB) *PrivatePostgres {
	t.Helper()
	bin := postgresBin(t)
	p := &PrivatePostgres{Port: freePort(t), User: config.DefaultDBUser, Password: config.DefaultDBPassword, bin: bin}
	// t.TempDir's parents are closed to other users; the server's OS user needs its own.
	dir, err := os.MkdirTemp("", "hangar-stacktest-pg-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	require.NoError(t, os.Chmod(dir, 0o755))
	p.dir = dir
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		require.NoError(t, err, "stacktest: PostgreSQL refuses to run as root and there is no postgres user")
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		p.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		require.NoError(t, os.Chown(dir, uid, gid))
	}
	pwfile := filepath.Join(dir, "pw")
	require.NoError(t, os.WriteFile(pwfile, []byte(p.Password+"\n"), 0o600))
	if p.cred != nil {
		require.NoError(t, os.Chown(pwfile, int(p.cred.Uid), int(p.cred.Gid)))
	}
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", p.dataDir(), "-U", p.User,
		"--auth=scram-sha-256", "--pwfile="+pwfile, "-E", "UTF8", "--no-locale", "--no-sync")
	initdb.Dir = dir
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: p.cred}
	out, err := initdb.CombinedOutput()
	require.NoError(t, err, "stacktest: initdb: %s", out)
	_ = os.Remove(pwfile)
	// Commits are written before they are acknowledged (synchronous_commit stays on), so a
	// crash stop loses nothing that was committed; fsync is off, as the operating system
	// does not crash.
	conf := fmt.Sprintf(`
listen_addresses = '127.0.0.1'
port = %d
unix_socket_directories = '%s'
max_connections = 200
fsync = off
full_page_writes = off
`, p.Port, dir)
	f, err := os.OpenFile(filepath.Join(p.dataDir(), "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString(conf)
	require.NoError(t, errors.Join(err, f.Close()))
	t.Cleanup(func() { p.kill() })
	p.Start(t)
	return p
}

func (p *PrivatePostgres) dataDir() string { return filepath.Join(p.dir, "data") }

// Addr is the server's "127.0.0.1:port".
func (p *PrivatePostgres) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(p.Port)) }

// URL is the DSN of database name on the server.
func (p *PrivatePostgres) URL(name string) string {
	u := url.URL{Scheme: "postgres", User: url.UserPassword(p.User, p.Password), Host: p.Addr(), Path: "/" + name, RawQuery: "sslmode=disable"}
	return u.String()
}

// Start starts the server (again, after Stop) and waits until it accepts connections.
func (p *PrivatePostgres) Start(t testing.TB) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.proc != nil {
		if exited, _ := p.proc.Exited(); !exited {
			t.Fatalf("stacktest: PostgreSQL on %s already runs", p.Addr())
		}
	}
	cmd := exec.Command(filepath.Join(p.bin, "postgres"), "-D", p.dataDir())
	cmd.Dir = p.dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: p.cred, Setpgid: true}
	p.proc = startProc(t, "postgres", cmd)
	waitServing(t, p.proc, func(ctx context.Context) error {
		pool, err := db.Open(ctx, p.URL("postgres"))
		if err == nil {
			pool.Close()
		}
		return err
	})
}

// Stop ends the server the way a crash does (`pg_ctl stop -m immediate`: SIGQUIT to the
// postmaster, no checkpoint; the next Start runs crash recovery) and waits until it is gone.
// Every connection breaks.
func (p *PrivatePostgres) Stop(t testing.TB) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	require.NotNil(t, p.proc)
	require.NoError(t, p.proc.Signal(syscall.SIGQUIT))
	select {
	case <-p.proc.done:
	case <-time.After(StopTimeout):
		p.proc.Kill()
		t.Fatalf("stacktest: PostgreSQL did not stop within %s of SIGQUIT; killed", StopTimeout)
	}
}

// Output returns the server's log (of its latest start).
func (p *PrivatePostgres) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.proc == nil {
		return ""
	}
	return p.proc.Output()
}

// kill ends the server and its children whatever their state.
func (p *PrivatePostgres) kill() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.proc == nil {
		return
	}
	if exited, _ := p.proc.Exited(); exited {
		return
	}
	_ = p.proc.Signal(syscall.SIGQUIT)
	select {
	case <-p.proc.done:
	case <-time.After(StopTimeout):
		_ = syscall.Kill(-p.proc.Cmd.Process.Pid, syscall.SIGKILL)
		p.proc.Kill()
	}
}

// NewDatabase creates database name on the server, migrated like dbtest's, and returns it
// with a pool (closed when t ends; the database goes with the cluster).
func (p *PrivatePostgres) NewDatabase(t testing.TB, name string) *dbtest.Database {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	admin, err := db.Open(ctx, p.URL("postgres"))
	require.NoError(t, err)
	_, err = admin.Exec(ctx, "CREATE DATABASE "+name)
	admin.Close()
	require.NoError(t, err)
	dsn := p.URL(name)
	pool, err := db.Open(ctx, dsn)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	_, err = db.Migrate(ctx, pool, nil)
	require.NoError(t, err)
	return &dbtest.Database{Name: name, DSN: dsn, Pool: pool}
}

// postgresBin returns the newest installed PostgreSQL's bin directory.
func postgresBin(t testing.TB) string {
	t.Helper()
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	if len(dirs) == 0 {
		if path, err := exec.LookPath("initdb"); err == nil {
			return filepath.Dir(path)
		}
		t.Fatal("stacktest: PostgreSQL binaries not found; run scripts/deps.sh")
	}
	sort.Slice(dirs, func(i, j int) bool {
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[i])))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[j])))
		return vi < vj
	})
	return dirs[len(dirs)-1]
}

// PrivateRedis is a Redis server of one test, on a loopback port of its own, with a password
// (requirepass) and no persistence, so the test may stop and restart it.
type PrivateRedis struct {
	// Port is the TCP port on 127.0.0.1.
	Port int
	// Password is the default user's password.
	Password string

	dir string

	mu   sync.Mutex
	proc *Proc
}

// StartRedis starts a Redis server for t; it is stopped when t ends.
func StartRedis(t testing.TB) *PrivateRedis {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatal("stacktest: redis-server not found; run scripts/deps.sh")
	}
	r := &PrivateRedis{Port: freePort(t), Password: config.DefaultRedisPassword, dir: t.TempDir()}
	t.Cleanup(func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.proc != nil {
			r.proc.Kill()
		}
	})
	r.Start(t)
	return r
}

// Addr is the server's "127.0.0.1:port".
func (r *PrivateRedis) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(r.Port)) }

// Client returns a new client of the server.
func (r *PrivateRedis) Client() *redis.Client {
	return redis.NewClient(&redis.Options{Addr: r.Addr(), Password: r.Password})
}

// Start starts the server (again, after Stop, empty: nothing persists) on its port and
// waits until it answers PING.
func (r *PrivateRedis) Start(t testing.TB) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.proc != nil {
		if exited, _ := r.proc.Exited(); !exited {
			t.Fatalf("stacktest: Redis on %s already runs", r.Addr())
		}
	}
	// The configuration comes on stdin, so the password is not on the command line.
	cmd := exec.Command("redis-server", "-")
	cmd.Dir = r.dir
	cmd.Stdin = strings.NewReader(fmt.Sprintf("port %d\nbind 127.0.0.1\nrequirepass %s\nsave \"\"\nappendonly no\ndatabases 64\ndir %s\n", r.Port, r.Password, r.dir))
	r.proc = startProc(t, "redis", cmd)
	waitServing(t, r.proc, func(ctx context.Context) error {
		c := r.Client()
		defer c.Close()
		return c.Ping(ctx).Err()
	})
}

// Stop shuts the server down (SHUTDOWN NOSAVE: its data is gone) and waits until it has
// exited. Every connection breaks.
func (r *PrivateRedis) Stop(t testing.TB) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	require.NotNil(t, r.proc)
	c := redis.NewClient(&redis.Options{Addr: r.Addr(), Password: r.Password, MaxRetries: -1})
	_ = c.ShutdownNoSave(context.Background()).Err() // the connection closes: no answer
	_ = c.Close()
	select {
	case <-r.proc.done:
	case <-time.After(StopTimeout):
		r.proc.Kill()
		t.Fatalf("stacktest: Redis did not stop within %s of SHUTDOWN", StopTimeout)
	}
}

// Output returns the server's log (of its latest start).
func (r *PrivateRedis) Output() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.proc == nil {
		return ""
	}
	return r.proc.Output()
}

// waitServing polls ping until it succeeds, failing t when p exits or serviceUp passes.
func waitServing(t testing.TB, p *Proc, ping func(ctx context.Context) error) {
	t.Helper()
	deadline := time.Now().Add(serviceUp)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := ping(ctx)
		cancel()
		if err == nil {
			return
		}
		if exited, perr := p.Exited(); exited {
			t.Fatalf("stacktest: %s exited before it served: %v\n%s", p.Name, perr, p.Output())
		}
		if time.Now().After(deadline) {
			t.Fatalf("stacktest: %s not serving within %s: %v\n%s", p.Name, serviceUp, err, p.Output())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	require.NoError(t, l.Close())
	return port
}
