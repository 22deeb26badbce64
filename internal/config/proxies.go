package config

import (
	"fmt"
	"net/netip"
	"strings"
)

// TrustedProxyPrefixes parses manager.trusted-proxies (environment BACKEND_TRUSTED_PROXIES,
// comma-separated): addresses ("127.0.0.1", "::1") or CIDR ranges ("10.0.0.0/8"). Blank
// entries are skipped.
func (m *Manager) TrustedProxyPrefixes() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, raw := range m.Manager.TrustedProxies {
		s := strings.TrimSpace(raw)
		if s == "" {
			continue
		}
		if strings.Contains(s, "/") {
			p, err := netip.ParsePrefix(s)
			if err != nil {
				return nil, fmt.Errorf("manager.trusted-proxies: %q is not an address or CIDR range", s)
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("manager.trusted-proxies: %q is not an address or CIDR range", s)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}
