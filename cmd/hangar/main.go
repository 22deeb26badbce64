// Command hangar runs Hangar's manager roles (api, worker) and its admin commands
// (schema, fixture, etcd, openapi), the habits of Backend.AI's `mgr` CLI.
package main

import (
	"fmt"
	"os"

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

func main() {
	if err := rootCmd.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "hangar:", err)
		os.Exit(1)
	}
}
