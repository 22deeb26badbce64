package functions

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// ClientAddr returns the address of the client that sent r, the one allowed_client_ip, the
// password-attempt limits and the logs go by.
//
// It is the TCP peer's address, unless the peer is one of d.TrustedProxies: then the
// forwarding headers the proxy set are read, X-Forwarded-For first (every such header, in
// order), else X-Real-IP, else Forwarded (RFC 7239 for= values), and the result is the
// right-most address of that chain that is not itself a trusted proxy: the one the outermost
// trusted proxy saw. Entries further left were written by the client or by untrusted hops, so
// they are never believed. A trusted peer that sent none of the headers is the client itself.
// The result is invalid (the zero Addr) only when the peer's address cannot be parsed.
func (d *Deps) ClientAddr(r *http.Request) netip.Addr {
	peer := parseHostAddr(r.RemoteAddr)
	if !peer.IsValid() || !d.trusted(peer) {
		return peer
	}
	chain := forwardedChain(r.Header)
	client := peer
	for i := len(chain) - 1; i >= 0; i-- {
		addr := parseHostAddr(chain[i])
		if !addr.IsValid() {
			// Garbage that a trusted proxy would not have written: stop at the last good hop.
			break
		}
		client = addr
		if !d.trusted(addr) {
			break
		}
	}
	return client
}

func (d *Deps) trusted(addr netip.Addr) bool {
	addr = addr.Unmap()
	for _, p := range d.TrustedProxies {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// forwardedChain returns the addresses a proxy chain reported, left (client side) to right.
func forwardedChain(h http.Header) []string {
	var chain []string
	if values := h.Values("X-Forwarded-For"); len(values) > 0 {
		for _, v := range values {
			for part := range strings.SplitSeq(v, ",") {
				chain = append(chain, strings.TrimSpace(part))
			}
		}
		return chain
	}
	if v := strings.TrimSpace(h.Get("X-Real-IP")); v != "" {
		return []string{v}
	}
	for _, v := range h.Values("Forwarded") {
		for elem := range strings.SplitSeq(v, ",") {
			for pair := range strings.SplitSeq(elem, ";") {
				k, val, ok := strings.Cut(strings.TrimSpace(pair), "=")
				if ok && strings.EqualFold(k, "for") {
					chain = append(chain, strings.Trim(strings.TrimSpace(val), `"`))
				}
			}
		}
	}
	return chain
}

// parseHostAddr parses "1.2.3.4", "1.2.3.4:5", "::1", "[::1]" or "[::1]:5" into an unmapped
// address without zone; anything else ("unknown", obfuscated identifiers) is invalid.
func parseHostAddr(s string) netip.Addr {
	s = strings.TrimSpace(s)
	if host, _, err := net.SplitHostPort(s); err == nil {
		s = host
	}
	s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	addr, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}
	}
	return addr.WithZone("").Unmap()
}
