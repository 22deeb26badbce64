// Package etcdtest runs a private etcd server for a test, on free loopback ports with its
// data in the test's temporary directory, for tests that change server-wide settings (such
// as enabling authentication) that must not touch the shared halfstack etcd. It needs the
// etcd binary (scripts/deps.sh installs it). Use it only from _test.go files.
package etcdtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// RootPassword is the password Start gives the root user when it enables authentication.
const RootPassword = "etcdtest-root"

// Server is a running private etcd.
type Server struct {
	// Endpoint is the client address, "127.0.0.1:<port>".
	Endpoint string
}

// freePort returns a loopback port nothing listens on right now.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("etcdtest: pick a port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// Start runs a private etcd until the test ends and waits (at most 20 s) until it answers.
// It skips the test when the etcd binary is missing.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := exec.LookPath("etcd")
	if err != nil {
		t.Skip("etcdtest: no etcd binary (run scripts/deps.sh)")
	}
	dir := t.TempDir()
	client, peer := freePort(t), freePort(t)
	clientURL := fmt.Sprintf("http://127.0.0.1:%d", client)
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", peer)
	logf, err := os.Create(filepath.Join(dir, "etcd.log"))
	if err != nil {
		t.Fatalf("etcdtest: %v", err)
	}
	cmd := exec.Command(bin, "--name", "etcdtest", "--data-dir", filepath.Join(dir, "data"),
		"--listen-client-urls", clientURL, "--advertise-client-urls", clientURL,
		"--listen-peer-urls", peerURL, "--initial-advertise-peer-urls", peerURL,
		"--initial-cluster", "etcdtest="+peerURL,
		"--heartbeat-interval", "10", "--election-timeout", "100")
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("etcdtest: start etcd: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		_ = logf.Close()
	})
	s := &Server{Endpoint: fmt.Sprintf("127.0.0.1:%d", client)}
	deadline := time.Now().Add(20 * time.Second)
	for {
		cli, err := s.client("", "")
		if err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			_, err = cli.Status(ctx, s.Endpoint)
			cancel()
			_ = cli.Close()
		}
		if err == nil {
			return s
		}
		select {
		case <-exited:
			log, _ := os.ReadFile(logf.Name())
			t.Fatalf("etcdtest: etcd exited: %s", tail(log))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("etcdtest: etcd on %s did not answer within 20s: %v", s.Endpoint, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func tail(b []byte) string {
	const n = 2000
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

func (s *Server) client(user, password string) (*clientv3.Client, error) {
	return clientv3.New(clientv3.Config{
		Endpoints:   []string{s.Endpoint},
		DialTimeout: 2 * time.Second,
		Username:    user,
		Password:    password,
		Logger:      zap.NewNop(),
	})
}

// EnableAuth creates the root user (password RootPassword) and a user called user with
// password, whose role may read and write everything below prefix, then turns
// authentication on.
func (s *Server) EnableAuth(t testing.TB, user, password, prefix string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cli, err := s.client("", "")
	if err != nil {
		t.Fatalf("etcdtest: %v", err)
	}
	defer cli.Close()
	role := user + "-role"
	err = errors.Join(
		ignore(cli.UserAdd(ctx, "root", RootPassword)),
		ignore(cli.UserGrantRole(ctx, "root", "root")),
		ignore(cli.RoleAdd(ctx, role)),
		ignore(cli.RoleGrantPermission(ctx, role, prefix, clientv3.GetPrefixRangeEnd(prefix), clientv3.PermissionType(clientv3.PermReadWrite))),
		ignore(cli.UserAdd(ctx, user, password)),
		ignore(cli.UserGrantRole(ctx, user, role)),
		ignore(cli.AuthEnable(ctx)),
	)
	if err != nil {
		t.Fatalf("etcdtest: enable auth: %v", err)
	}
}

func ignore[T any](_ T, err error) error { return err }
