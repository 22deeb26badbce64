// Package dotfile is the one home of Backend.AI's dotfiles: files a keypair, a project or a
// domain keeps in the database (a msgpack list of {path, perm, data} in the dotfiles bytea
// column) and that every new kernel finds in its home directory. It holds the codec, the
// limits and path rules of the API, the priority merge (keypair over project over domain) done
// when a session is created, and the reading of the merged list from a kernel's internal data
// on the agent.
//
// It imports no project package, so the API, the jobs and the agent share it.
package dotfile

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"strings"

	"github.com/vmihailenco/msgpack/v5"
)

// MaxSize is the most bytes one owner's packed dotfile list, and a bootstrap script, may take
// (Backend.AI's MAXIMUM_DOTFILE_SIZE).
const MaxSize = 64 * 1024

// MaxCount is the most dotfiles one owner may have.
const MaxCount = 100

// MaxPathLen bounds a dotfile path.
const MaxPathLen = 255

// reserved are the paths Backend.AI keeps for itself (RESERVED_DOTFILES).
var reserved = map[string]bool{ //nolint:gochecknoglobals // read-only
	".terminfo": true, ".jupyter": true, ".ssh": true, ".ssh/authorized_keys": true, ".local": true, ".config": true,
}

var permPattern = regexp.MustCompile(`^[0-7]{3}$`)

// Dotfile is one dotfile as stored: path relative to the kernel's home, permission as three
// octal digits, and content.
type Dotfile struct {
	Path string `msgpack:"path" json:"path"`
	Perm string `msgpack:"perm" json:"perm"`
	Data string `msgpack:"data" json:"data"`
}

// ErrCorrupt reports a stored dotfile list that is not a msgpack list of dotfiles.
var ErrCorrupt = errors.New("dotfile: the stored dotfiles are not a valid msgpack list")

// Decode reads a stored dotfile list. An empty value is an empty list.
func Decode(b []byte) ([]Dotfile, error) {
	if len(b) == 0 {
		return []Dotfile{}, nil
	}
	var out []Dotfile
	if err := msgpack.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	if out == nil {
		out = []Dotfile{}
	}
	return out, nil
}

// Encode packs a dotfile list as Backend.AI stores it.
func Encode(files []Dotfile) ([]byte, error) {
	if files == nil {
		files = []Dotfile{}
	}
	return msgpack.Marshal(files)
}

// CheckPath returns why p cannot be a dotfile path, or "" when it can: it must be a relative
// path inside the home directory (no leading "/", no "..", no empty or "." components), of
// printable characters, and not one Backend.AI reserves.
func CheckPath(p string) string {
	switch {
	case p == "":
		return "must not be empty"
	case len(p) > MaxPathLen:
		return fmt.Sprintf("must be at most %d bytes", MaxPathLen)
	case strings.HasPrefix(p, "/"):
		return "must be relative to the home directory"
	case strings.ContainsFunc(p, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '\\' }):
		return "must not contain control characters or backslashes"
	}
	for _, part := range strings.Split(p, "/") {
		if part == "" || part == "." || part == ".." {
			return "must not contain empty, \".\" or \"..\" components"
		}
	}
	if path.Clean(p) != p {
		return "must be a clean path"
	}
	if reserved[p] {
		return "is reserved for internal operations"
	}
	return ""
}

// CheckPerm reports whether perm is three octal digits.
func CheckPerm(perm string) bool { return permPattern.MatchString(perm) }

// Merge is the list a new kernel gets: the keypair's dotfiles, then the project's and the
// domain's whose paths are not taken yet, in Backend.AI's order (lowest priority first, so a
// writer going through the list in order leaves the highest-priority file in place).
func Merge(keypair, project, domain []Dotfile) []Dotfile {
	seen := map[string]bool{}
	var merged []Dotfile
	for _, list := range [][]Dotfile{keypair, project, domain} {
		for _, f := range list {
			if seen[f.Path] {
				continue
			}
			seen[f.Path] = true
			merged = append(merged, f)
		}
	}
	for i, j := 0, len(merged)-1; i < j; i, j = i+1, j-1 {
		merged[i], merged[j] = merged[j], merged[i]
	}
	return merged
}

// InternalDataKey is the key of the merged list in a kernel's internal data.
const InternalDataKey = "dotfiles"

// FromInternalData reads the dotfiles of a kernel's internal data (as decoded from JSON or
// msgpack into generic values). Entries that are not {path, perm, data} strings are an error.
func FromInternalData(data map[string]any) ([]Dotfile, error) {
	raw, ok := data[InternalDataKey]
	if !ok || raw == nil {
		return nil, nil
	}
	list, ok := raw.([]any)
	if !ok {
		return nil, fmt.Errorf("dotfile: internal data %q is a %T, not a list", InternalDataKey, raw)
	}
	out := make([]Dotfile, 0, len(list))
	for i, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("dotfile: entry %d is a %T, not an object", i, e)
		}
		var f Dotfile
		for key, dst := range map[string]*string{"path": &f.Path, "perm": &f.Perm, "data": &f.Data} {
			s, ok := m[key].(string)
			if !ok {
				return nil, fmt.Errorf("dotfile: entry %d: %q is not a string", i, key)
			}
			*dst = s
		}
		out = append(out, f)
	}
	return out, nil
}
