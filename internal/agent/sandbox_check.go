package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/hangar-run/hangar/internal/agentrpc"
)

// sandboxCheckID names the kernel checkSandbox starts; the leading dot keeps it out of the
// kernel ids the leftover reaping considers.
const sandboxCheckID = ".sandbox-check"

// checkSandbox starts a kernel sandbox the way kernels start and checks from inside that it
// holds what it promises: the kernel's own uid and no other group, a read-only host, no
// network but loopback, a PID namespace of its own, /etc/shadow unreadable, the scratch root
// hidden and the working directory writable.
func (r *ProcessRuntime) checkSandbox() error {
	cfg := &agentrpc.KernelConfig{KernelID: sandboxCheckID,
		Image: agentrpc.ImageRef{Canonical: "hangar/sandbox-check", RuntimeType: "shell", RuntimePath: "/bin/sh"}}
	r.mu.Lock()
	k, err := r.start(cfg, nil, false)
	if err == nil {
		r.kernels[cfg.KernelID] = k
		r.uids[cfg.KernelID] = k.lease
	}
	r.mu.Unlock()
	if err != nil {
		return err
	}
	defer func() { _ = r.DestroyKernel(context.Background(), cfg.KernelID) }()
	r.mu.Lock()
	uid := strconv.Itoa(r.uids[cfg.KernelID].uid)
	r.mu.Unlock()
	script := strings.NewReplacer("UID", uid, "ROOT", shellQuote(r.root)).Replace(`
PATH=/usr/sbin:/usr/bin:/sbin:/bin; export PATH
fail() { echo "$*"; exit 1; }
[ "$(id -u)" = UID ] || fail "runs as uid $(id -u), not UID"
[ "$(id -G)" = UID ] || fail "runs with the groups $(id -G)"
( : >/usr/.hangar-sandbox-check ) 2>/dev/null && fail "the host file system is writable"
[ "$(grep -c : /proc/net/dev)" = 1 ] || fail "network interfaces besides loopback are visible"
[ "$(cat /proc/1/comm)" = bwrap ] || fail "no PID namespace of its own"
[ -e /etc/shadow ] && [ -r /etc/shadow ] && fail "/etc/shadow is readable"
[ -z "$(ls -A ROOT 2>/dev/null)" ] || fail "the scratch root is visible"
( : >/home/work/.check && rm /home/work/.check ) || fail "/home/work is not writable"
echo ok`)
	var out, errs bytes.Buffer
	wait, err := k.launch([]string{"/bin/sh", "-c", script}, nil, &out, &errs)
	if err != nil {
		return fmt.Errorf("sandbox check: %w", err)
	}
	if code := wait(); code != 0 || strings.TrimSpace(out.String()) != "ok" {
		msg := strings.TrimSpace(out.String() + " " + errs.String())
		if msg == "" {
			msg = fmt.Sprintf("exit code %d", code)
		}
		return errors.New("sandbox check: " + msg)
	}
	return nil
}
