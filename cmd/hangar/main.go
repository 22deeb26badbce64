// Command hangar runs Hangar's manager roles (api, worker) and its admin commands
// (schema, fixture, etcd, openapi), the habits of Backend.AI's `mgr` CLI.
package main

import (
	"context"
	"fmt"
	"os"
	"runtime/pprof"

	"github.com/spf13/cobra"
)

// globalOpts are the flags every subcommand shares.
type globalOpts struct {
	ConfigPath string
	Debug      bool
}

var (
	opts    globalOpts        //nolint:gochecknoglobals
	rootCmd = &cobra.Command{ //nolint:gochecknoglobals
		Use:           "hangar",
		Short:         "Hangar: a control plane for compute sessions, compatible with Backend.AI Manager 24.03",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
)

func init() {
	rootCmd.PersistentFlags().StringVarP(&opts.ConfigPath, "config", "f", "", "path to manager.toml (default: ./manager.toml, ~/.config/backend.ai/manager.toml, /etc/backend.ai/manager.toml)")
	rootCmd.PersistentFlags().BoolVar(&opts.Debug, "debug", false, "debug logging")
}

// profileEnv names a file prefix: when set, the process writes a CPU profile of its whole life
// to <prefix>.<pid> (for `go tool pprof`), e.g. while a benchmark drives the stack.
const profileEnv = "HANGAR_CPUPROFILE"

func main() {
	if prefix := os.Getenv(profileEnv); prefix != "" {
		if f, err := os.Create(fmt.Sprintf("%s.%d", prefix, os.Getpid())); err == nil {
			if pprof.StartCPUProfile(f) == nil {
				defer f.Close()
				defer pprof.StopCPUProfile()
			}
		}
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "hangar:", err)
		os.Exit(1) //nolint:gocritic // the profile matters only on clean exits
	}
}

func run() error { return rootCmd.Execute() }

// stoppedBySignal is a long-running command's result: an error that comes after SIGINT or
// SIGTERM cancelled ctx (for example a connection still being made at start-up) is the
// requested shutdown, not a failure.
func stoppedBySignal(ctx context.Context, err error) error {
	if err != nil && ctx.Err() != nil {
		return nil
	}
	return err
}
