// Package hostperm is the allowed_vfolder_hosts value of domains, projects and keypair
// resource policies: storage host → the permissions granted on it (Backend.AI's
// VFolderHostPermission values).
package hostperm

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/danielgtaylor/huma/v2"
)

// Permission is a permission granted on a storage host.
type Permission string

// All lists the permissions Backend.AI knows.
func All() []Permission {
	return []Permission{
		"create-vfolder", "modify-vfolder", "delete-vfolder", "mount-in-session",
		"upload-file", "download-file", "invite-others", "set-user-specific-permission",
	}
}

// Schema implements huma.SchemaProvider: a string from the known permissions.
func (Permission) Schema(huma.Registry) *huma.Schema {
	enum := make([]any, 0, len(All()))
	for _, p := range All() {
		enum = append(enum, string(p))
	}
	return &huma.Schema{Type: huma.TypeString, Enum: enum, Description: "A permission on a storage host."}
}

// Hosts maps a storage host ("proxy:volume") to the permissions granted on it.
type Hosts = map[string][]Permission

// Encode stores hosts as JSON, each host's permissions without duplicates.
func Encode(hosts Hosts) (json.RawMessage, error) {
	out := make(Hosts, len(hosts))
	for host, perms := range hosts {
		uniq := make([]Permission, 0, len(perms))
		for _, p := range perms {
			if !slices.Contains(uniq, p) {
				uniq = append(uniq, p)
			}
		}
		out[host] = uniq
	}
	raw, err := json.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("encode allowed_vfolder_hosts: %w", err)
	}
	return raw, nil
}

// Decode reads a stored value; it never returns a nil map or a nil permission list.
func Decode(raw json.RawMessage) (Hosts, error) {
	out := Hosts{}
	if len(raw) == 0 || string(raw) == "null" {
		return out, nil
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("decode allowed_vfolder_hosts: %w", err)
	}
	if out == nil {
		out = Hosts{}
	}
	for host, perms := range out {
		if perms == nil {
			out[host] = []Permission{}
		}
	}
	return out, nil
}
