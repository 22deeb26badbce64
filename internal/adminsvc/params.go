package adminsvc

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"net/netip"
	"strings"

	"github.com/google/uuid"
	"golang.org/x/crypto/bcrypt"

	"github.com/hangar-run/hangar/internal/names"
	"github.com/hangar-run/hangar/internal/slots"
)

// defaultPolicy names the resource policies new projects, users and keypairs get.
const defaultPolicy = "default"

// DefaultRateLimit is the rate limit (requests per 15 minutes) of keypairs created without one.
const DefaultRateLimit = 30000

// defaultBcryptCost is Backend.AI's bcrypt cost, used when Deps.BcryptCost is 0.
const defaultBcryptCost = 12

// statusInfoAdmin is the status_info of a status an administrator set.
const statusInfoAdmin = "admin-requested"

// checkName validates a slug name given in key.
func checkName(key, name string, maxLen int) error {
	return invalidParam(key, names.Slug(name, maxLen))
}

// checkEmail rejects anything but a bare e-mail address.
func checkEmail(key, email string) error {
	a, err := mail.ParseAddress(email)
	if err != nil || a.Address != email || strings.ContainsAny(email, " \t\r\n") {
		return invalid(key, key+": invalid e-mail address", map[string]string{key: "invalid e-mail address"})
	}
	return nil
}

// hashPassword hashes a password with bcrypt at the configured cost.
func (s *Service) hashPassword(pw string) (string, error) {
	cost := s.d.BcryptCost
	if cost == 0 {
		cost = defaultBcryptCost
	}
	h, err := bcrypt.GenerateFromPassword([]byte(pw), cost)
	if errors.Is(err, bcrypt.ErrPasswordTooLong) {
		return "", invalid("password", "password: too long (at most 72 bytes)", map[string]string{"password": "too long"})
	}
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return string(h), nil
}

// parseClientIPs reads allowed_client_ip: addresses or CIDR networks.
func parseClientIPs(in []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(in))
	for _, raw := range in {
		raw = strings.TrimSpace(raw)
		if p, err := netip.ParsePrefix(raw); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(raw)
		if err != nil {
			return nil, invalid("allowed_client_ip", "allowed_client_ip: invalid address "+raw,
				map[string]string{"allowed_client_ip": "not an IP address or CIDR network: " + raw})
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// parseUUIDs reads a list of ids given in key, dropping duplicates.
func parseUUIDs(key string, in []string) ([]uuid.UUID, error) {
	out := make([]uuid.UUID, 0, len(in))
	seen := map[uuid.UUID]bool{}
	for _, raw := range in {
		id, err := uuid.Parse(raw)
		if err != nil {
			return nil, invalid(key, key+": invalid id "+raw, map[string]string{key: "not a uuid: " + raw})
		}
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out, nil
}

// encodeSlots validates a resource slot map given in key and encodes it normalized for the
// database; the error names key and the slot.
func (s *Service) encodeSlots(key string, in map[string]string) (json.RawMessage, error) {
	norm, err := slots.Normalize(in, s.slotTypes())
	if err != nil {
		k := key
		var se *slots.SlotError
		if errors.As(err, &se) {
			k = key + "." + se.Slot
		}
		return nil, invalid(k, key+": "+err.Error(), map[string]string{k: err.Error()})
	}
	raw, err := json.Marshal(norm)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", key, err)
	}
	return raw, nil
}

// deref returns *p, or def when p is nil.
func deref[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}

// nonNil returns s, or an empty slice for nil.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// FormatClientIPs writes allowed_client_ip back: single hosts as addresses, networks in CIDR.
func FormatClientIPs(in []netip.Prefix) []string {
	out := make([]string, 0, len(in))
	for _, p := range in {
		if p.IsSingleIP() {
			out = append(out, p.Addr().String())
		} else {
			out = append(out, p.String())
		}
	}
	return out
}
