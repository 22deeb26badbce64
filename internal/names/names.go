// Package names holds the rules for the names operators and users give to objects: domains,
// projects, scaling groups, resource policies and presets (slugs), image aliases, and keys of
// the shared configuration. The rules keep names printable and free of path syntax, quotes and
// control characters, so that they can be used in URL paths, etcd keys, logs and file names.
package names

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// SlugPattern is the rule for slugs, as Backend.AI writes it for domain and project names:
// ASCII letters and digits, with '.', '_' and '-' inside (never first or last).
const SlugPattern = `^[a-zA-Z0-9]([a-zA-Z0-9._-]*[a-zA-Z0-9])?$`

// Length limits of the named objects (the database column widths).
const (
	// MaxShortName bounds domain, project and scaling group names (varchar(64)).
	MaxShortName = 64
	// MaxLongName bounds resource policy and preset names (varchar(256)).
	MaxLongName = 256
	// MaxAlias bounds image aliases.
	MaxAlias = 128
	// MaxConfigKey bounds keys of the shared configuration.
	MaxConfigKey = 512
)

// AliasPattern is the rule for image aliases: one or more '/'-separated segments, each a slug
// that may also hold ':' inside ("python", "python:3.11", "team/python").
const AliasPattern = `^[a-zA-Z0-9]([a-zA-Z0-9._:-]*[a-zA-Z0-9])?(/[a-zA-Z0-9]([a-zA-Z0-9._:-]*[a-zA-Z0-9])?)*$`

var (
	slugRx  = regexp.MustCompile(SlugPattern)  //nolint:gochecknoglobals // read-only
	aliasRx = regexp.MustCompile(AliasPattern) //nolint:gochecknoglobals // read-only
)

// Slug checks a slug of at most maxLen bytes against SlugPattern.
func Slug(name string, maxLen int) error {
	switch {
	case name == "":
		return errors.New("must not be empty")
	case len(name) > maxLen:
		return fmt.Errorf("longer than %d characters", maxLen)
	case !slugRx.MatchString(name):
		return errors.New("only ASCII letters, digits, '.', '_' and '-' are allowed, starting and ending with a letter or digit")
	}
	return nil
}

// Alias checks an image alias of at most MaxAlias bytes against AliasPattern.
func Alias(alias string) error {
	switch {
	case alias == "":
		return errors.New("must not be empty")
	case len(alias) > MaxAlias:
		return fmt.Errorf("longer than %d characters", MaxAlias)
	case !aliasRx.MatchString(alias):
		return errors.New("only '/'-separated segments of ASCII letters, digits, '.', '_', ':' and '-' are allowed, " +
			"each starting and ending with a letter or digit")
	}
	return nil
}

// ConfigKey checks a key of the shared configuration, relative to the namespace: valid UTF-8
// of at most MaxConfigKey bytes, printable (no control characters), not only slashes, and
// without "." or ".." segments.
func ConfigKey(key string) error {
	if strings.Trim(key, "/") == "" {
		return errors.New("must name a key")
	}
	if len(key) > MaxConfigKey {
		return fmt.Errorf("longer than %d bytes", MaxConfigKey)
	}
	if err := Printable(key); err != nil {
		return err
	}
	for seg := range strings.SplitSeq(key, "/") {
		if seg == "." || seg == ".." {
			return errors.New("must not contain '.' or '..' segments")
		}
	}
	return nil
}

// Printable checks that s is valid UTF-8 of printable characters only (unicode.IsPrint: no
// control characters such as NUL, newlines or DEL, no invisible format characters, and no
// space but the ASCII one).
func Printable(s string) error {
	for i, r := range s {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(s[i:]); size <= 1 {
				return errors.New("invalid UTF-8")
			}
		}
		if !unicode.IsPrint(r) {
			return fmt.Errorf("character %U not allowed", r)
		}
	}
	return nil
}
