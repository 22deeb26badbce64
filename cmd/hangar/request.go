package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/auth"
)

func init() {
	var endpoint, accessKey, secretKey string
	cmd := &cobra.Command{
		Use:   "request METHOD PATH [JSON-BODY]",
		Short: "Send one signed request to a Hangar (or Backend.AI) API and print the answer",
		Long: "Signs with Backend.AI's HMAC scheme. Keys come from --access-key/--secret-key, else " +
			"BACKEND_ACCESS_KEY/BACKEND_SECRET_KEY, else the example superadmin keypair.",
		Args: cobra.RangeArgs(2, 3),
		RunE: func(cmd *cobra.Command, args []string) error {
			var body io.Reader
			if len(args) == 3 {
				body = strings.NewReader(args[2])
			}
			req, err := http.NewRequestWithContext(cmd.Context(), strings.ToUpper(args[0]),
				strings.TrimRight(endpoint, "/")+args[1], body)
			if err != nil {
				return err
			}
			if body != nil {
				req.Header.Set("Content-Type", "application/json")
			}
			creds := auth.Credentials{AccessKey: accessKey, SecretKey: secretKey}
			if err := creds.SignRequest(req, functions.APIVersion, time.Now()); err != nil {
				return err
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				return fmt.Errorf("cannot reach the API at %s: %w", endpoint, err)
			}
			defer res.Body.Close()
			out, err := io.ReadAll(res.Body)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.ErrOrStderr(), res.Status)
			if len(bytes.TrimSpace(out)) > 0 {
				fmt.Fprintln(cmd.OutOrStdout(), strings.TrimRight(string(out), "\n"))
			}
			if res.StatusCode >= 400 {
				return fmt.Errorf("%s", res.Status)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&endpoint, "endpoint", envOr("BACKEND_ENDPOINT", "http://127.0.0.1:8081"), "API endpoint")
	cmd.Flags().StringVar(&accessKey, "access-key", envOr("BACKEND_ACCESS_KEY", "AKIAIOSFODNN7EXAMPLE"), "access key")
	cmd.Flags().StringVar(&secretKey, "secret-key", envOr("BACKEND_SECRET_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"), "secret key")
	rootCmd.AddCommand(cmd)
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
