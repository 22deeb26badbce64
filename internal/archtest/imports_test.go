// Package archtest checks the one-way import rules of design.md on the whole module. The
// lint configuration (.golangci.yml, depguard) states the same rules per file; this test also
// follows imports transitively. Beyond design.md: job handler packages (jobs/<concern>) never
// import one another, sharing what they need through internal/jobkit, and jobs/jobstest,
// which wires them together for tests, is test-only.
package archtest

import (
	"encoding/json"
	"io"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const module = "github.com/hangar-run/hangar"

type pkg struct {
	ImportPath string
	Imports    []string
}

func loadPackages(t *testing.T) []pkg {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	cmd := exec.Command("go", "list", "-json=ImportPath,Imports", "./...")
	cmd.Dir = filepath.Join(filepath.Dir(file), "..", "..")
	out, err := cmd.Output()
	require.NoError(t, err)
	dec := json.NewDecoder(strings.NewReader(string(out)))
	var pkgs []pkg
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else {
			require.NoError(t, err)
		}
		pkgs = append(pkgs, p)
	}
	require.NotEmpty(t, pkgs)
	return pkgs
}

func rel(path string) string { return strings.TrimPrefix(strings.TrimPrefix(path, module), "/") }

func under(path, dir string) bool { return path == dir || strings.HasPrefix(path, dir+"/") }

// handlerPackage reports whether path is a job handler package (jobs/schedule, jobs/session,
// jobs/maintenance, ...): below the jobs root, which holds only the task contract.
func handlerPackage(path string) bool { return under(path, "jobs") && path != "jobs" }

func TestImportRules(t *testing.T) {
	t.Parallel()
	// Packages that import no other project package.
	leaves := map[string]bool{"internal/auth": true, "internal/scheduler": true, "internal/agentrpc": true, "internal/slots": true}
	// The exceptions: pure leaves a leaf may import (the scheduler reads amounts with the one
	// strict amount parser of internal/slots, itself a leaf).
	leafImports := map[string]bool{"internal/scheduler > internal/slots": true}
	// Packages only tests may import.
	// (jobs/jobstest wires sibling job handler packages together, which production code never does.)
	testOnly := map[string]bool{
		"internal/dbtest": true, "functions/functionstest": true, "internal/stacktest": true, "jobs/jobstest": true,
	}

	for _, p := range loadPackages(t) {
		from := rel(p.ImportPath)
		for _, imp := range p.Imports {
			if !strings.HasPrefix(imp, module) {
				continue
			}
			to := rel(imp)
			switch {
			case leaves[from] && !(leafImports[from+" > "+to] && leaves[to]):
				t.Errorf("%s must import no project package, imports %s", from, to)
			case testOnly[to] && !testOnly[from]:
				t.Errorf("%s imports the test-only package %s outside tests", from, to)
			case under(to, "cmd"):
				t.Errorf("%s imports %s: nothing imports cmd", from, to)
			case under(from, "functions") && under(to, "jobs") && to != "jobs":
				t.Errorf("%s imports the job handler package %s; functions may import only the jobs root", from, to)
			case under(from, "jobs") && under(to, "functions"):
				t.Errorf("%s imports %s: jobs never import functions", from, to)
			case handlerPackage(from) && !testOnly[from] && handlerPackage(to) && from != to:
				t.Errorf("%s imports the sibling job handler package %s; what handlers share is in internal/jobkit", from, to)
			case from == "internal/lifecycle" && (under(to, "functions") || under(to, "jobs")):
				t.Errorf("%s imports %s: the lifecycle sits below the API and every job, the jobs root included", from, to)
			case under(from, "internal") && (under(to, "functions") || (under(to, "jobs") && to != "jobs")):
				t.Errorf("%s imports %s: internal packages sit below functions and job handlers", from, to)
			}
		}
	}
}

// TestWorkerRuntimeStaysInTheWorker checks that the API and the agent do not link the worker
// runtime, directly or through another package (their metrics helpers live in
// internal/metricsserver).
func TestWorkerRuntimeStaysInTheWorker(t *testing.T) {
	t.Parallel()
	_, file, _, _ := runtime.Caller(0)
	cmd := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", "./functions/...", "./cmd/hangar-agent", "./internal/agent/...")
	cmd.Dir = filepath.Join(filepath.Dir(file), "..", "..")
	out, err := cmd.Output()
	require.NoError(t, err)
	deps := strings.Fields(string(out))
	require.Contains(t, deps, module+"/functions", "the listing covers the API")
	require.Contains(t, deps, module+"/internal/agent", "the listing covers the agent")
	require.NotContains(t, deps, module+"/internal/worker", "the API or the agent links internal/worker")
}
