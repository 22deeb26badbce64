package agent

import (
	"fmt"
	"os"
	"path"
	"strconv"
	"syscall"
	"time"

	"github.com/hangar-run/hangar/internal/agentrpc"
	"github.com/hangar-run/hangar/internal/dotfile"
)

// bootstrapWait is how long a kernel's creation waits for its bootstrap script; a script
// still running then goes on in the background.
const bootstrapWait = 2 * time.Minute

// prepareHome does what Backend.AI's agent does before a kernel is handed to its user: it
// writes the dotfiles of the kernel's internal data into its home directory (in list order,
// so that the highest-priority file of a path wins), each with its permission and owned by
// the kernel's user, then runs the bootstrap script in the kernel and waits for it (up to
// bootstrapWait). Paths are confined to the home directory (os.Root); failures are logged
// and do not fail the kernel, as a broken dotfile must not keep a session from starting.
func (r *ProcessRuntime) prepareHome(k *procKernel, cfg *agentrpc.KernelConfig) {
	files, err := dotfile.FromInternalData(cfg.InternalData)
	if err != nil {
		r.logger.Warn("kernel dotfiles not placed", "kernel", cfg.KernelID, "err", err)
	}
	for _, f := range files {
		if err := writeDotfile(k.work, f); err != nil {
			r.logger.Warn("kernel dotfile not placed", "kernel", cfg.KernelID, "path", f.Path, "err", err)
		}
	}
	if cfg.BootstrapScript != "" {
		r.runBootstrap(k, cfg)
	}
}

// writeDotfile writes f under work, creating its parent directories.
func writeDotfile(work string, f dotfile.Dotfile) error {
	if why := dotfile.CheckPath(f.Path); why != "" {
		return fmt.Errorf("path %s", why)
	}
	perm, err := strconv.ParseUint(f.Perm, 8, 32)
	if err != nil || !dotfile.CheckPerm(f.Perm) {
		return fmt.Errorf("permission %q is not three octal digits", f.Perm)
	}
	root, err := os.OpenRoot(work)
	if err != nil {
		return err
	}
	defer root.Close()
	own := workOwner(root)
	if err := mkdirs(root, path.Dir(f.Path), own); err != nil {
		return err
	}
	if st, err := root.Lstat(f.Path); err == nil && !st.Mode().IsRegular() {
		return fmt.Errorf("%s exists and is not a regular file", f.Path)
	}
	out, err := root.OpenFile(f.Path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return err
	}
	_, werr := out.WriteString(f.Data)
	if werr == nil {
		werr = own.chown(out)
	}
	if werr == nil {
		werr = out.Chmod(os.FileMode(perm))
	}
	if cerr := out.Close(); werr == nil {
		werr = cerr
	}
	return werr
}

// runBootstrap runs the kernel's bootstrap script with /bin/sh in the kernel (its sandbox,
// user, environment and home), its output going to the kernel's log.
func (r *ProcessRuntime) runBootstrap(k *procKernel, cfg *agentrpc.KernelConfig) {
	wait, err := k.launch([]string{"/bin/sh", "-c", cfg.BootstrapScript}, nil, k.log, k.log)
	if err != nil {
		r.logger.Warn("kernel bootstrap script not started", "kernel", cfg.KernelID, "err", err)
		return
	}
	done := make(chan int, 1)
	k.waiters.Add(1)
	go func() {
		defer k.waiters.Done()
		done <- wait()
	}()
	select {
	case code := <-done:
		if code != 0 {
			r.logger.Warn("kernel bootstrap script failed", "kernel", cfg.KernelID, "exit_code", code)
		}
	case <-time.After(bootstrapWait):
		r.logger.Warn("kernel bootstrap script still running; the kernel starts without waiting for it", "kernel", cfg.KernelID)
	}
}
