// Package registrytest runs a real container registry for tests and pushes images to it.
//
// The registry is the distribution registry server (Debian's docker-registry package,
// installed by scripts/deps.sh), started as a child process on a free loopback port with
// its storage in the test's temporary directory, optionally behind basic authentication
// (an htpasswd file with a bcrypt hash). It is killed when the test ends. Tests are
// skipped when the binary is missing. Images are built in memory with
// go-containerregistry (random layers, a config with the given labels) and pushed over the
// v2 API, the way `docker push` would.
package registrytest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/crypto/bcrypt"

	"github.com/hangar-run/hangar/internal/config"
)

// Binary is the distribution registry server.
const Binary = "/usr/bin/docker-registry"

// Options configure a test registry.
type Options struct {
	// Username and Password, when set, turn on basic authentication with that one user.
	Username, Password string
}

// Server is a running test registry.
type Server struct {
	// Addr is host:port.
	Addr string
	// URL is http://Addr.
	URL      string
	username string
	password string
}

// Start runs a registry for the test's lifetime, skipping the test when the registry binary
// is not installed.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	if _, err := os.Stat(Binary); err != nil {
		t.Skipf("%s not installed (go tool task deps)", Binary)
	}
	dir := t.TempDir()
	var authCfg string
	if o.Username != "" {
		hash, err := bcrypt.GenerateFromPassword([]byte(o.Password), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		htpasswd := filepath.Join(dir, "htpasswd")
		if err := os.WriteFile(htpasswd, []byte(o.Username+":"+string(hash)+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		authCfg = fmt.Sprintf("auth:\n  htpasswd:\n    realm: hangar-test\n    path: %s\n", htpasswd)
	}
	var lastErr error
	for range 5 {
		addr, err := freeAddr()
		if err != nil {
			t.Fatal(err)
		}
		cfgPath := filepath.Join(dir, "config.yml")
		cfg := fmt.Sprintf(`version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: %s
  secret: hangar-test-secret
%scatalog:
  maxentries: 1000
`, filepath.Join(dir, "data"), addr, authCfg)
		if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		s := &Server{Addr: addr, URL: "http://" + addr, username: o.Username, password: o.Password}
		if lastErr = s.run(t, cfgPath, filepath.Join(dir, "registry.log")); lastErr == nil {
			return s
		}
	}
	t.Fatalf("start registry: %v", lastErr)
	return nil
}

// run starts the registry process and waits until it answers /v2/.
func (s *Server) run(t testing.TB, cfgPath, logPath string) error {
	logf, err := os.Create(logPath)
	if err != nil {
		return err
	}
	cmd := exec.Command(Binary, "serve", cfgPath)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		_ = logf.Close()
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		_ = cmd.Process.Kill()
		<-exited
		_ = logf.Close()
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get(s.URL + "/v2/") //nolint:noctx // short poll of a local server
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusUnauthorized {
				t.Cleanup(stop)
				return nil
			}
		}
		select {
		case err := <-exited:
			exited <- err
			stop()
			b, _ := os.ReadFile(logPath)
			return fmt.Errorf("registry exited: %v: %s", err, strings.TrimSpace(string(b)))
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			stop()
			return errors.New("registry did not answer within 15s")
		}
	}
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer func() { _ = ln.Close() }()
	return ln.Addr().String(), nil
}

// Registry returns the registry configuration for s under name, with s's credentials.
func (s *Server) Registry(regName string) config.ContainerRegistry {
	return config.ContainerRegistry{Name: regName, URL: s.URL, Type: "docker", Username: s.username, Password: s.password, SSLVerify: true}
}

func (s *Server) remoteOpts(ctx context.Context) []remote.Option {
	auth := authn.Anonymous
	if s.username != "" {
		auth = &authn.Basic{Username: s.username, Password: s.password}
	}
	return []remote.Option{remote.WithContext(ctx), remote.WithAuth(auth)}
}

func (s *Server) tag(ref string) (name.Tag, error) {
	return name.NewTag(s.Addr+"/"+ref, name.Insecure)
}

// KernelLabels returns a valid set of Backend.AI labels plus extra.
func KernelLabels(extra map[string]string) map[string]string {
	l := map[string]string{
		"ai.backend.kernelspec":   "1",
		"ai.backend.features":     "batch query uid-match user-input",
		"ai.backend.base-distro":  "ubuntu22.04",
		"ai.backend.runtime-type": "python",
		"ai.backend.runtime-path": "/usr/bin/python3",
	}
	for k, v := range extra {
		l[k] = v
	}
	return l
}

// NewImage builds a random image (two layers of size bytes each) for arch ("amd64",
// "arm64", ...) whose config carries labels.
func NewImage(size int64, arch string, labels map[string]string) (v1.Image, error) {
	img, err := random.Image(size, 2)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.Architecture, cf.OS = arch, "linux"
	cf.Config.Labels = labels
	return mutate.ConfigFile(img, cf)
}

// Push pushes img as ref ("repo:tag").
func (s *Server) Push(ctx context.Context, ref string, img v1.Image) error {
	tag, err := s.tag(ref)
	if err != nil {
		return err
	}
	return remote.Write(tag, img, s.remoteOpts(ctx)...)
}

// PushImage builds and pushes a single-architecture image with labels and returns it.
func (s *Server) PushImage(ctx context.Context, ref, arch string, labels map[string]string) (v1.Image, error) {
	img, err := NewImage(512, arch, labels)
	if err != nil {
		return nil, err
	}
	return img, s.Push(ctx, ref, img)
}

// PushIndex pushes an OCI index as ref with one image per entry of images (architecture →
// image), plus a build attestation entry like BuildKit writes, and returns the index.
func (s *Server) PushIndex(ctx context.Context, ref string, images map[string]v1.Image) (v1.ImageIndex, error) {
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	var anyDigest string
	for arch, img := range images {
		img = mutate.MediaType(img, types.OCIManifestSchema1)
		img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
		d, err := img.Digest()
		if err != nil {
			return nil, err
		}
		anyDigest = d.String()
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{
			Platform: &v1.Platform{OS: "linux", Architecture: arch},
		}})
	}
	att, err := random.Image(64, 1)
	if err != nil {
		return nil, err
	}
	att = mutate.MediaType(att, types.OCIManifestSchema1)
	att = mutate.ConfigMediaType(att, types.OCIConfigJSON)
	idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: att, Descriptor: v1.Descriptor{
		Platform: &v1.Platform{OS: "unknown", Architecture: "unknown"},
		Annotations: map[string]string{
			"vnd.docker.reference.type":   "attestation-manifest",
			"vnd.docker.reference.digest": anyDigest,
		},
	}})
	tag, err := s.tag(ref)
	if err != nil {
		return nil, err
	}
	return idx, remote.WriteIndex(tag, idx, s.remoteOpts(ctx)...)
}

// Delete deletes the manifest ref ("repo:tag") points to, and with it the tag.
func (s *Server) Delete(ctx context.Context, ref string) error {
	tag, err := s.tag(ref)
	if err != nil {
		return err
	}
	desc, err := remote.Head(tag, s.remoteOpts(ctx)...)
	if err != nil {
		return err
	}
	return remote.Delete(tag.Context().Digest(desc.Digest.String()), s.remoteOpts(ctx)...)
}
