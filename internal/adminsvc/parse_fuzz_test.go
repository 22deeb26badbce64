package adminsvc

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzParseClientIPs: allowed_client_ip entries become valid prefixes that format and parse
// back to themselves, or a KindInvalid error naming the key.
func FuzzParseClientIPs(f *testing.F) {
	for _, s := range []string{"10.0.0.1", "10.0.0.0/8", "::1", "fe80::1%eth0", "::ffff:10.0.0.1", "1.2.3.4/33", " 1.2.3.4 ", "", "\xff", "fe80::1%eth0/64"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		in := strings.Split(raw, ",")
		out, err := parseClientIPs(in)
		if err != nil {
			e := AsError(err)
			require.NotNil(t, e, "%v", err)
			require.Equal(t, KindInvalid, e.Kind)
			return
		}
		require.Len(t, out, len(in))
		for _, p := range out {
			require.True(t, p.IsValid(), "%q gave an invalid prefix", raw)
		}
		back, err := parseClientIPs(FormatClientIPs(out))
		require.NoError(t, err, "%q", raw)
		require.Equal(t, out, back)
		for _, p := range out {
			_, err := netip.ParsePrefix(p.String())
			require.NoError(t, err, "%q", raw)
		}
	})
}

// FuzzParseUUIDs: ids parse without duplicates, or a KindInvalid error naming the field.
func FuzzParseUUIDs(f *testing.F) {
	for _, s := range []string{"dfa9da54-4b28-432f-be29-c0d680c7a412", "DFA9DA54-4B28-432F-BE29-C0D680C7A412,dfa9da54-4b28-432f-be29-c0d680c7a412",
		"{dfa9da54-4b28-432f-be29-c0d680c7a412}", "urn:uuid:dfa9da54-4b28-432f-be29-c0d680c7a412", "", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		out, err := parseUUIDs("group_ids", strings.Split(raw, ","))
		if err != nil {
			e := AsError(err)
			require.NotNil(t, e, "%v", err)
			require.Equal(t, KindInvalid, e.Kind)
			require.Equal(t, "group_ids", e.Key)
			require.Contains(t, e.Data, "group_ids")
			return
		}
		seen := map[string]bool{}
		for _, id := range out {
			require.False(t, seen[id.String()], "duplicate %s", id)
			seen[id.String()] = true
		}
	})
}
