package dashboard

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/functions/functionstest"
	"github.com/hangar-run/hangar/internal/fixture"
)

// chromiumPath finds Debian's chromium, installing it with scripts/deps.sh when it is missing
// and the test runs as root; it skips the test only when neither works.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	_, file, _, _ := runtime.Caller(0)
	deps := filepath.Join(filepath.Dir(file), "..", "..", "scripts", "deps.sh")
	if os.Geteuid() == 0 {
		if out, err := exec.Command("bash", deps).CombinedOutput(); err != nil {
			t.Logf("scripts/deps.sh failed: %v\n%s", err, out)
		}
		if p, err := exec.LookPath("chromium"); err == nil {
			return p
		}
	}
	t.Skip("chromium is not installed and scripts/deps.sh could not install it; run `go tool task deps`")
	return ""
}

// seedQueue fills a fresh queue with `completed` processed tasks (kept by their retention)
// and then `pending` tasks nobody processes, and removes the queue when t ends.
func seedQueue(t *testing.T, queue string, completed, pending int) {
	t.Helper()
	ctx := t.Context()
	ropt := functionstest.RedisOpt()
	insp := asynq.NewInspector(ropt)
	t.Cleanup(func() {
		_ = insp.DeleteQueue(queue, true)
		_ = insp.Close()
	})
	aq := asynq.NewClient(ropt)
	t.Cleanup(func() { _ = aq.Close() })
	enqueue := func(n int, kind string) {
		for i := range n {
			_, err := aq.EnqueueContext(ctx, asynq.NewTask("test:"+kind, fmt.Appendf(nil, `{"n":%d}`, i)),
				asynq.Queue(queue), asynq.Retention(time.Hour))
			require.NoError(t, err)
		}
	}
	enqueue(completed, "done")
	srv := asynq.NewServer(ropt, asynq.Config{
		Concurrency: 2, Queues: map[string]int{queue: 1}, TaskCheckInterval: 10 * time.Millisecond,
		LogLevel: asynq.FatalLevel,
	})
	require.NoError(t, srv.Start(asynq.HandlerFunc(func(context.Context, *asynq.Task) error { return nil })))
	deadline := time.Now().Add(20 * time.Second)
	for {
		info, err := insp.GetQueueInfo(queue)
		require.NoError(t, err)
		if info.Completed == completed {
			break
		}
		require.True(t, time.Now().Before(deadline), "tasks not completed: %+v", info)
		time.Sleep(10 * time.Millisecond)
	}
	srv.Shutdown()
	enqueue(pending, "waiting")
}

// TestBrowserDashboard drives headless Chromium: the dashboard refuses a browser without a
// login, and after signing in through the form shows the test's queue with its pending and
// completed tasks.
func TestBrowserDashboard(t *testing.T) {
	t.Parallel()
	chromium := chromiumPath(t)
	b := setup(t)
	queue := b.env.Namespace + ":default"
	seedQueue(t, queue, 2, 3)

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.NoSandbox, // tests run as root
		// The page links web fonts from the internet; tests stay offline (the UI falls back
		// to system fonts).
		chromedp.Flag("host-resolver-rules", "MAP fonts.googleapis.com ~NOTFOUND, MAP fonts.gstatic.com ~NOTFOUND"),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(t.Context(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancelCtx := chromedp.NewContext(allocCtx, chromedp.WithLogf(t.Logf))
	t.Cleanup(cancelCtx)
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(cancel)

	base := b.env.HTTP.URL
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(base+"/jobs/"),
		chromedp.WaitVisible(chromedp.ID("email")),
	))
	loc, err := chromedp.Run(ctx, chromedp.Location())
	require.NoError(t, err)
	require.Equal(t, base+LoginPath, loc, "without a login the dashboard redirects to the login form")
	apiStatus, err := chromedp.Run(ctx, chromedp.Evaluate[int](`fetch("/jobs/api/queues").then(r => r.status)`, chromedp.EvalAwaitPromise))
	require.NoError(t, err)
	require.Equal(t, 401, apiStatus, "without a login the dashboard's API is refused")

	require.NoError(t, chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.ID("email"), fixture.SuperadminEmail),
		chromedp.SendKeys(chromedp.ID("password"), fixture.SuperadminPassword),
		chromedp.Click(chromedp.ID("login")),
		chromedp.WaitVisible(chromedp.Search(fmt.Sprintf(`//*[text()=%q]`, queue))),
	))
	loc, err = chromedp.Run(ctx, chromedp.Location())
	require.NoError(t, err)
	require.Equal(t, base+"/jobs/", loc)
	// The queue's page counts its tasks by state: the chips wait for the exact numbers.
	chip := func(state string, n int) chromedp.Search {
		return chromedp.Search(fmt.Sprintf(`//div[starts-with(normalize-space(text()), %q)]/span[text()="%d"]`, state, n))
	}
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.Search(fmt.Sprintf(`//a[text()=%q]`, queue))),
		chromedp.WaitVisible(chip("Pending", 3)),
		chromedp.WaitVisible(chip("Completed", 2)),
	))
	loc, err = chromedp.Run(ctx, chromedp.Location())
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(loc, base+"/jobs/queues/"), loc)
}
