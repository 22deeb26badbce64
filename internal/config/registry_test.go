package config

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestContainerRegistries(t *testing.T) {
	t.Parallel()
	e := testEtcd(t)
	ctx := testCtx(t, 10*time.Second)
	require.NoError(t, e.PutPrefix(ctx, ContainerRegistriesKey, map[string]any{
		"cr.backend.ai":  map[string]any{"": "https://cr.backend.ai", "type": "harbor2", "project": "stable, ngc", "username": "u", "password": "p"},
		"localhost:5000": map[string]any{"": "http://localhost:5000", "ssl-verify": "false"},
		"plain":          "https://plain.example.com",
		"no-url":         map[string]any{"type": "docker"},
	}))
	regs, err := e.ContainerRegistries(ctx)
	require.NoError(t, err)
	require.Equal(t, []ContainerRegistry{
		{Name: "cr.backend.ai", URL: "https://cr.backend.ai", Type: "harbor2", Username: "u", Password: "p", Projects: []string{"stable", "ngc"}, SSLVerify: true},
		{Name: "localhost:5000", URL: "http://localhost:5000", Type: "docker", SSLVerify: false},
		{Name: "plain", URL: "https://plain.example.com", Type: "docker", SSLVerify: true},
	}, regs)

	s, err := NewShared(ctx, e)
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Close()) }()
	require.Equal(t, regs, s.ContainerRegistries())
	// The name is stored URL-quoted.
	_, ok := s.Get(ContainerRegistriesKey + "/localhost%3A5000/ssl-verify")
	require.True(t, ok)
}
