package agent

import (
	"fmt"
	"strings"

	"github.com/hangar-run/hangar/internal/agentrpc"
)

// Batch mode of the process runtime: the request's options name up to three shell commands,
// clean, build and exec, run one after the other in the kernel's working directory with the
// kernel's environment, process group and cgroup, for Python and shell images alike. Each
// phase's output streams into the run and the kernel log. A phase that ends closes an answer
// of its own: clean-finished, build-finished, and finished after exec, each with the phase's
// exit code; the client fetches the next phase with mode continue. The phases run back to
// back: the next one starts while the client has not yet fetched the previous one's end.
// A clean or build that exits non-zero ends the run (finished, with its exit code). Empty or
// absent phases are skipped; when exec is absent the last phase that runs ends the run
// (finished). The option buildLog is accepted; build output is always streamed.
//
// The value "*" asks for the image's default: clean and build do nothing (they end at once
// with code 0), and exec runs main.py with the image's Python interpreter for Python images
// (`<python> main.py`) or main.sh with the image's shell for other images (`<shell> main.sh`,
// so main.sh needs no executable bit).

// batchDefault is the option value that asks for the image's default command.
const batchDefault = "*"

// batchPhase is one phase of a batch run.
type batchPhase struct {
	// status is the phase's end status when it is not the run's last.
	status string
	// command is the shell command; empty for a phase with nothing to do.
	command string
}

// batchPhases reads a batch request's options into the phases to run.
func (k *procKernel) batchPhases(opts map[string]any) ([]batchPhase, error) {
	var phases []batchPhase
	for _, p := range []struct{ key, status string }{
		{"clean", agentrpc.ExecStatusCleanFinished},
		{"build", agentrpc.ExecStatusBuildFinished},
		{"exec", agentrpc.ExecStatusFinished},
	} {
		v, ok := opts[p.key]
		if !ok || v == nil {
			continue
		}
		cmd, ok := v.(string)
		if !ok {
			return nil, agentrpc.Errorf(agentrpc.KindInvalidInput, "batch option %s must be a string, not %T", p.key, v)
		}
		cmd = strings.TrimSpace(cmd)
		switch {
		case cmd == "":
			continue
		case cmd == batchDefault && p.key == "exec":
			cmd = k.defaultExec()
		case cmd == batchDefault:
			cmd = ""
		}
		phases = append(phases, batchPhase{status: p.status, command: cmd})
	}
	return phases, nil
}

// defaultExec is the command exec "*" runs.
func (k *procKernel) defaultExec() string {
	if k.python {
		return shellQuote(k.interp) + " main.py"
	}
	return shellQuote(k.shell) + " main.sh"
}

// runBatch runs a batch run's phases and ends it.
func (k *procKernel) runBatch(cur *run, phases []batchPhase) {
	for i, p := range phases {
		code := 0
		if p.command != "" {
			wait, err := k.spawn(cur, p.command)
			if err != nil {
				cur.add("stderr", fmt.Sprintf("cannot run the batch command: %v\n", err))
				cur.finish(127)
				return
			}
			code = wait()
		}
		if code != 0 || i == len(phases)-1 {
			cur.finish(code)
			return
		}
		cur.endPhase(p.status, code)
	}
	cur.finish(0)
}

// shellQuote quotes s as one word for /bin/sh.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./+=:,@%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
