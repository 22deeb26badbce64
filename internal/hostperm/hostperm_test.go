package hostperm_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/internal/hostperm"
)

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	raw, err := hostperm.Encode(hostperm.Hosts{"local:volume1": {"upload-file", "upload-file", "mount-in-session"}, "nfs:x": nil})
	require.NoError(t, err)
	got, err := hostperm.Decode(raw)
	require.NoError(t, err)
	require.Equal(t, hostperm.Hosts{"local:volume1": {"upload-file", "mount-in-session"}, "nfs:x": {}}, got)
	for _, in := range []string{"", "null", "{}"} {
		got, err = hostperm.Decode([]byte(in))
		require.NoError(t, err)
		require.Equal(t, hostperm.Hosts{}, got)
	}
	_, err = hostperm.Decode([]byte(`{"h": "not a list"}`))
	require.Error(t, err)
	require.Len(t, hostperm.All(), 8)
}
