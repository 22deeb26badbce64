package agent

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/internal/config"
)

// The agent's Redis defaults to the halfstack's, with its password; a configured address
// gets only the credentials configured with it.
func TestParseRedisCredentials(t *testing.T) {
	cfg, err := Parse(nil, testHost(nil))
	require.NoError(t, err)
	require.Equal(t, config.DefaultRedisAddr, cfg.Redis.Addr.String())
	require.Equal(t, config.DefaultRedisPassword, cfg.Redis.Password)
	require.Empty(t, cfg.Redis.Username)

	cfg, err = Parse([]byte("[redis]\naddr = \"redis.example:6379\"\n"), testHost(nil))
	require.NoError(t, err)
	require.Empty(t, cfg.Redis.Password)

	cfg, err = Parse([]byte("[redis]\naddr = \"redis.example:6379\"\nusername = \"agent\"\npassword = \"file-pw\"\nssl-enabled = true\n"),
		testHost(map[string]string{"BACKEND_REDIS_PASSWORD": "env-pw", "HANGAR_REDIS_USERNAME": "env-user"}))
	require.NoError(t, err)
	require.Equal(t, "env-user", cfg.Redis.Username)
	require.Equal(t, "env-pw", cfg.Redis.Password)
	tlsCfg, err := cfg.Redis.Config("redis")
	require.NoError(t, err)
	require.NotNil(t, tlsCfg)

	_, err = Parse([]byte("[redis]\nssl-ca = \"/nonexistent/ca.pem\"\n"), testHost(nil))
	require.ErrorContains(t, err, "redis.ssl-ca")
}
