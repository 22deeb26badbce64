package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hangar-run/hangar/internal/config"
)

// etcdOpTimeout bounds one `hangar etcd` command's work against etcd.
const etcdOpTimeout = 30 * time.Second

// etcdScope selects which configuration scope a key belongs to, as Backend.AI does:
// global keys sit at the namespace root, scaling-group keys under sgroup/<name>/ and
// per-agent keys under nodes/agents/<id>/.
type etcdScope struct {
	scope  string
	sgroup string
	node   string
}

// key maps a key to its place in the selected scope.
func (s *etcdScope) key(key string) (string, error) {
	key = strings.Trim(key, "/")
	var prefix string
	switch s.scope {
	case "global", "":
		return key, nil
	case "sgroup":
		if s.sgroup == "" || strings.Contains(s.sgroup, "/") {
			return "", errors.New("--scope sgroup needs --sgroup NAME (without '/')")
		}
		prefix = "sgroup/" + s.sgroup
	case "node":
		if s.node == "" || strings.Contains(s.node, "/") {
			return "", errors.New("--scope node needs --node AGENT_ID (without '/')")
		}
		prefix = "nodes/agents/" + s.node
	default:
		return "", fmt.Errorf("--scope %q: want global, sgroup or node", s.scope)
	}
	if key == "" {
		return prefix, nil
	}
	return prefix + "/" + key, nil
}

// withEtcd opens the store named by manager.toml, runs fn and closes the store.
func withEtcd(cmd *cobra.Command, fn func(ctx context.Context, store *config.Etcd) error) error {
	e, err := loadEnv()
	if err != nil {
		return err
	}
	if len(e.cfg.Ignored) > 0 {
		e.logger.Debug("ignored manager.toml keys", "keys", e.cfg.Ignored)
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), etcdOpTimeout)
	defer cancel()
	store, err := e.openEtcd(ctx)
	if err != nil {
		return err
	}
	defer store.Close()
	return fn(ctx, store)
}

func init() {
	scope := &etcdScope{}
	etcdCmd := &cobra.Command{
		Use:   "etcd",
		Short: "Read and write the shared configuration in etcd (/sorna/<namespace>/...)",
	}
	etcdCmd.PersistentFlags().StringVar(&scope.scope, "scope", "global", "configuration scope: global, sgroup or node")
	etcdCmd.PersistentFlags().StringVar(&scope.sgroup, "sgroup", "", "scaling group name for --scope sgroup")
	etcdCmd.PersistentFlags().StringVar(&scope.node, "node", "", "agent id for --scope node")

	etcdCmd.AddCommand(&cobra.Command{
		Use:   "put KEY VALUE",
		Short: "Store VALUE at KEY",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			key, err := scope.key(args[0])
			if err != nil {
				return err
			}
			return withEtcd(cmd, func(ctx context.Context, store *config.Etcd) error {
				return store.Put(ctx, key, args[1])
			})
		},
	})

	etcdCmd.AddCommand(&cobra.Command{
		Use:   "put-json KEY FILE",
		Short: "Store the JSON document in FILE (- for stdin) below KEY, one key per leaf",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			key, err := scope.key(args[0])
			if err != nil {
				return err
			}
			data, err := readInput(cmd, args[1])
			if err != nil {
				return err
			}
			if !json.Valid(data) {
				return fmt.Errorf("%s: not valid JSON", inputName(args[1]))
			}
			return withEtcd(cmd, func(ctx context.Context, store *config.Etcd) error {
				return store.PutJSON(ctx, key, data)
			})
		},
	})

	var getPrefix bool
	getCmd := &cobra.Command{
		Use:   "get KEY",
		Short: "Print the value at KEY, or with --prefix everything below it as nested JSON",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			key, err := scope.key(args[0])
			if err != nil {
				return err
			}
			return withEtcd(cmd, func(ctx context.Context, store *config.Etcd) error {
				out := cmd.OutOrStdout()
				if getPrefix {
					tree, err := store.GetPrefix(ctx, key)
					if err != nil {
						return err
					}
					b, err := json.MarshalIndent(tree, "", "    ")
					if err != nil {
						return fmt.Errorf("encode %s: %w", key, err)
					}
					_, err = fmt.Fprintln(out, string(b))
					return err
				}
				v, ok, err := store.Get(ctx, key)
				if err != nil {
					return err
				}
				if !ok {
					return fmt.Errorf("key not found: %s", key)
				}
				_, err = fmt.Fprintln(out, v)
				return err
			})
		},
	}
	getCmd.Flags().BoolVar(&getPrefix, "prefix", false, "read KEY and every key below it")
	etcdCmd.AddCommand(getCmd)

	var deletePrefix bool
	deleteCmd := &cobra.Command{
		Use:   "delete KEY",
		Short: "Delete KEY, or with --prefix KEY and every key below it",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			key, err := scope.key(args[0])
			if err != nil {
				return err
			}
			if key == "" {
				return errors.New("refusing to delete the whole namespace: name a key")
			}
			return withEtcd(cmd, func(ctx context.Context, store *config.Etcd) error {
				if deletePrefix {
					return store.DeletePrefix(ctx, key)
				}
				return store.Delete(ctx, key)
			})
		},
	}
	deleteCmd.Flags().BoolVar(&deletePrefix, "prefix", false, "delete KEY and every key below it")
	etcdCmd.AddCommand(deleteCmd)

	rootCmd.AddCommand(etcdCmd)
}

// readInput reads a file argument, where "-" means standard input.
func readInput(cmd *cobra.Command, name string) ([]byte, error) {
	if name == "-" {
		data, err := io.ReadAll(cmd.InOrStdin())
		if err != nil {
			return nil, fmt.Errorf("read standard input: %w", err)
		}
		return data, nil
	}
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return data, nil
}

func inputName(name string) string {
	if name == "-" {
		return "standard input"
	}
	return name
}
