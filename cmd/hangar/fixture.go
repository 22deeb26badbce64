package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/jackc/pgx/v5"
	"github.com/spf13/cobra"

	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/fixture"
)

func init() {
	var examples bool
	populate := &cobra.Command{
		Use:   "populate [FILE...]",
		Short: "Load fixture files (Backend.AI's fixture JSON) into the database, upserting rows",
		Long: "Loads each FILE (\"-\" reads standard input) in the order given, all in one transaction: " +
			"on any error nothing is applied. With --examples, loads Hangar's embedded example fixtures " +
			"(domain, project and scaling group \"default\", the example users and keypairs, resource presets).",
		RunE: func(cmd *cobra.Command, args []string) error {
			if examples == (len(args) > 0) {
				return errors.New("give fixture files or --examples (not both)")
			}
			var files []fixtureFile
			if examples {
				for _, name := range fixture.ExampleFiles() {
					files = append(files, fixtureFile{name: name, data: fixture.Example(name)})
				}
			} else {
				for _, path := range args {
					f, err := readFixtureFile(path, cmd.InOrStdin())
					if err != nil {
						return err
					}
					files = append(files, f)
				}
			}
			return populateFixtures(cmd.Context(), cmd.OutOrStdout(), files)
		},
	}
	populate.Flags().BoolVar(&examples, "examples", false, "load the embedded example fixtures")
	cmd := &cobra.Command{Use: "fixture", Short: "Fixture commands"}
	cmd.AddCommand(populate)
	rootCmd.AddCommand(cmd)
}

// fixtureFile is one fixture file's name (for messages) and content.
type fixtureFile struct {
	name string
	data []byte
}

func readFixtureFile(path string, stdin io.Reader) (fixtureFile, error) {
	if path == "-" {
		data, err := io.ReadAll(stdin)
		if err != nil {
			return fixtureFile{}, fmt.Errorf("read standard input: %w", err)
		}
		return fixtureFile{name: "(stdin)", data: data}, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return fixtureFile{}, fmt.Errorf("read fixture: %w", err)
	}
	return fixtureFile{name: path, data: data}, nil
}

// populateFixtures applies the files in order in one transaction and prints per-table counts.
func populateFixtures(ctx context.Context, out io.Writer, files []fixtureFile) error {
	e, err := loadEnv()
	if err != nil {
		return err
	}
	pool, err := e.openDB(ctx)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := requireSchema(ctx, pool); err != nil {
		return err
	}
	reports := make([]fixture.Report, 0, len(files))
	err = db.InTx(ctx, pool, func(tx pgx.Tx) error {
		for _, f := range files {
			rep, err := fixture.Populate(ctx, tx, bytes.NewReader(f.data), fixture.Options{Logger: e.logger})
			if err != nil {
				return fmt.Errorf("%s: %w", f.name, err)
			}
			reports = append(reports, rep)
		}
		return nil
	})
	if err != nil {
		return errors.New(strings.ReplaceAll(err.Error()+" (nothing was applied)", "\n", " "))
	}
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	for i, rep := range reports {
		fmt.Fprintf(w, "%s (%s mode)\n", files[i].name, rep.Mode)
		if len(rep.Tables) == 0 {
			fmt.Fprintln(w, "  no tables")
		}
		for _, t := range rep.Tables {
			fmt.Fprintf(w, "  %s\t%d inserted\t%d updated\t%d unchanged\n", t.Table, t.Inserted, t.Updated, t.Unchanged)
		}
	}
	return w.Flush()
}
