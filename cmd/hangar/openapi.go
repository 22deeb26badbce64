package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/functions/api"
)

func init() {
	var out, version, format string
	cmd := &cobra.Command{
		Use:   "openapi",
		Short: "Print the OpenAPI document (or write every variant into a directory with --out)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			docs, err := openAPIDocuments()
			if err != nil {
				return err
			}
			if out != "" {
				for name, b := range docs {
					if err := os.WriteFile(filepath.Join(out, name), b, 0o644); err != nil {
						return err
					}
				}
				return nil
			}
			name := "openapi"
			if version == "3.0" {
				name += "-3.0"
			} else if version != "3.1" {
				return fmt.Errorf("--version must be 3.1 or 3.0")
			}
			b, ok := docs[name+"."+format]
			if !ok {
				return fmt.Errorf("--format must be yaml or json")
			}
			_, err = cmd.OutOrStdout().Write(b)
			return err
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "write openapi.{yaml,json} and openapi-3.0.{yaml,json} into this directory")
	cmd.Flags().StringVar(&version, "version", "3.1", "OpenAPI version: 3.1 or 3.0")
	cmd.Flags().StringVar(&format, "format", "yaml", "yaml or json")
	rootCmd.AddCommand(cmd)
}

// openAPIDocuments renders the document without serving: 3.1 and the 3.0 downgrade, as YAML
// and JSON.
func openAPIDocuments() (map[string][]byte, error) {
	doc := api.New(&functions.Deps{}).API().OpenAPI()
	y31, err := doc.YAML()
	if err != nil {
		return nil, err
	}
	j31, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, err
	}
	y30, err := doc.DowngradeYAML()
	if err != nil {
		return nil, err
	}
	j30raw, err := doc.Downgrade()
	if err != nil {
		return nil, err
	}
	var v any
	if err := json.Unmarshal(j30raw, &v); err != nil {
		return nil, err
	}
	j30, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, err
	}
	return map[string][]byte{
		"openapi.yaml":     y31,
		"openapi.json":     append(j31, '\n'),
		"openapi-3.0.yaml": y30,
		"openapi-3.0.json": append(j30, '\n'),
	}, nil
}
