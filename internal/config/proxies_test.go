package config

import (
	"net/netip"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestTrustedProxies(t *testing.T) {
	t.Run("NoneByDefault", func(t *testing.T) {
		isolate(t)
		t.Setenv("BACKEND_TRUSTED_PROXIES", "")
		m, _, err := Load("")
		require.NoError(t, err)
		got, err := m.TrustedProxyPrefixes()
		require.NoError(t, err)
		require.Empty(t, got)
	})

	t.Run("FileAndEnvironment", func(t *testing.T) {
		cwd, _ := isolate(t)
		t.Setenv("BACKEND_TRUSTED_PROXIES", "")
		writeFile(t, filepath.Join(cwd, "manager.toml"), "[manager]\ntrusted-proxies = [\"127.0.0.1\", \"10.1.2.3/8\", \"::1\"]\n")
		m, _, err := Load("")
		require.NoError(t, err)
		require.Empty(t, m.Ignored)
		got, err := m.TrustedProxyPrefixes()
		require.NoError(t, err)
		require.Equal(t, []netip.Prefix{
			netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128"),
		}, got)

		t.Setenv("BACKEND_TRUSTED_PROXIES", "192.0.2.0/24, 198.51.100.1")
		m, _, err = Load("")
		require.NoError(t, err)
		got, err = m.TrustedProxyPrefixes()
		require.NoError(t, err)
		require.Equal(t, []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("198.51.100.1/32")}, got)
	})

	t.Run("Invalid", func(t *testing.T) {
		isolate(t)
		t.Setenv("BACKEND_TRUSTED_PROXIES", "proxy.example")
		_, _, err := Load("")
		require.ErrorContains(t, err, `manager.trusted-proxies: "proxy.example" is not an address or CIDR range`)
	})
}
