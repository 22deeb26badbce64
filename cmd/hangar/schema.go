package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hangar-run/hangar/internal/db"
)

func init() {
	schema := &cobra.Command{Use: "schema", Short: "Database schema commands"}
	schema.AddCommand(&cobra.Command{
		Use:   "oneshot",
		Short: "Create the database if needed and apply every pending migration (idempotent)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			e, err := loadEnv()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if err := ensureDatabase(ctx, e); err != nil {
				return err
			}
			pool, err := e.openDB(ctx)
			if err != nil {
				return err
			}
			defer pool.Close()
			applied, err := db.Migrate(ctx, pool, nil)
			if err != nil {
				return err
			}
			v, err := db.SchemaVersion(ctx, pool)
			if err != nil {
				return err
			}
			for _, m := range applied {
				fmt.Fprintf(cmd.OutOrStdout(), "applied %s\n", m.Source)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "schema is at version %d (%d migrations applied now)\n", v, len(applied))
			return nil
		},
	})
	schema.AddCommand(&cobra.Command{
		Use:   "show",
		Short: "Print the schema version of the database",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			e, err := loadEnv()
			if err != nil {
				return err
			}
			pool, err := e.openDB(cmd.Context())
			if err != nil {
				return err
			}
			defer pool.Close()
			v, err := db.SchemaVersion(cmd.Context(), pool)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "schema version %d\n", v)
			return nil
		},
	})
	rootCmd.AddCommand(schema)
}

// ensureDatabase creates the configured database when the server has none of that name.
func ensureDatabase(ctx context.Context, e *env) error {
	adminDSN, err := db.WithDatabase(e.cfg.DSN(), "postgres")
	if err != nil {
		return err
	}
	admin, err := db.Open(ctx, adminDSN)
	if err != nil {
		return err
	}
	defer admin.Close()
	name := e.cfg.DB.Name
	var exists bool
	if err := admin.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return fmt.Errorf("check database %q: %w", name, err)
	}
	if exists {
		return nil
	}
	if _, err := admin.Exec(ctx, `CREATE DATABASE "`+name+`"`); err != nil && !isDuplicateDatabase(err) {
		return fmt.Errorf("create database %q: %w", name, err)
	}
	return nil
}

func isDuplicateDatabase(err error) bool {
	return err != nil && strings.Contains(err.Error(), "42P04")
}
