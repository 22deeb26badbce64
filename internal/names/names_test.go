package names_test

import (
	"regexp"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/internal/names"
)

func TestSlug(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"default", "a", "gpu-01", "cpu01-small", "Team_A.x", "a..b", strings.Repeat("x", 64)} {
		require.NoError(t, names.Slug(ok, names.MaxShortName), ok)
	}
	for _, bad := range []string{
		"", "..", ".", "../../a/b\\c", "' OR '1'='1", "a b", "a\x00b", "a\nb", "tab\there", "-lead", "trail-",
		"_x", "x_", ".hidden", "a/b", "a\\b", "é", "a;b", "a%2fb", "\xff", strings.Repeat("x", 65),
	} {
		require.Error(t, names.Slug(bad, names.MaxShortName), "%q", bad)
	}
	require.NoError(t, names.Slug(strings.Repeat("x", 256), names.MaxLongName))
	require.Error(t, names.Slug(strings.Repeat("x", 257), names.MaxLongName))
}

func TestAlias(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"python", "py311", "python:3.11", "team/python:3.11-ubuntu22.04", "cr.backend.ai/stable/python"} {
		require.NoError(t, names.Alias(ok), ok)
	}
	for _, bad := range []string{
		"", "../../a/b\\c", "a/../b", "/abs", "trailing/", "a//b", "' OR '1'='1", "a\x00", "a\tb", "a b", ":x", "x:",
		strings.Repeat("a", 129),
	} {
		require.Error(t, names.Alias(bad), "%q", bad)
	}
}

func TestConfigKey(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"config/docker/registry", "config/api/resources/group_resource_visibility",
		"volumes/_types/user", "config/docker/registry/cr.backend.ai", "a/b%2fc", "config/", "/config/x", "キー/値"} {
		require.NoError(t, names.ConfigKey(ok), ok)
	}
	for _, bad := range []string{"", "/", "//", "a\x00b", "a\nb", "a\x7fb", "a\u202eb", "\xff\xfe", "a/../b", "../x", "a/.",
		strings.Repeat("k", 513)} {
		require.Error(t, names.ConfigKey(bad), "%q", bad)
	}
}

// FuzzSlug checks what an accepted slug can never hold, whatever the input.
func FuzzSlug(f *testing.F) {
	for _, s := range []string{"default", "../../a/b\\c", "' OR '1'='1", "a\x00b", "\xff", "a..b", "-x", "x"} {
		f.Add(s)
	}
	rx := regexp.MustCompile(names.SlugPattern)
	f.Fuzz(func(t *testing.T, s string) {
		err := names.Slug(s, names.MaxShortName)
		if (err == nil) != (s != "" && len(s) <= names.MaxShortName && rx.MatchString(s)) {
			t.Fatalf("Slug(%q) = %v disagrees with SlugPattern", s, err)
		}
		if err == nil {
			requireSafe(t, s)
			if s[0] == '.' || s[0] == '-' || strings.ContainsAny(s, ":") {
				t.Fatalf("Slug accepted %q", s)
			}
		}
	})
}

// FuzzAlias checks what an accepted alias can never hold.
func FuzzAlias(f *testing.F) {
	for _, s := range []string{"python", "python:3.11", "a/b", "../../a/b\\c", "a/../b", "a//b", "/a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if names.Alias(s) != nil {
			return
		}
		requireSafe(t, s)
		if len(s) > names.MaxAlias || strings.HasPrefix(s, "/") || strings.HasSuffix(s, "/") || strings.Contains(s, "//") {
			t.Fatalf("Alias accepted %q", s)
		}
		for seg := range strings.SplitSeq(s, "/") {
			if seg == "." || seg == ".." || strings.HasPrefix(seg, ".") {
				t.Fatalf("Alias accepted %q", s)
			}
		}
	})
}

// FuzzConfigKey checks what an accepted configuration key can never hold.
func FuzzConfigKey(f *testing.F) {
	for _, s := range []string{"config/docker/registry", "a\x00b", "a/../b", "/", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if names.ConfigKey(s) != nil {
			return
		}
		if !utf8.ValidString(s) || len(s) > names.MaxConfigKey || strings.Trim(s, "/") == "" {
			t.Fatalf("ConfigKey accepted %q", s)
		}
		for _, r := range s {
			if unicode.IsControl(r) {
				t.Fatalf("ConfigKey accepted a control character in %q", s)
			}
		}
		for seg := range strings.SplitSeq(s, "/") {
			if seg == "." || seg == ".." {
				t.Fatalf("ConfigKey accepted %q", s)
			}
		}
	})
}

// requireSafe fails when s holds anything unsafe in a path, a query or a log line.
func requireSafe(t *testing.T, s string) {
	t.Helper()
	if !utf8.ValidString(s) || strings.ContainsAny(s, "\\'\"` ;%?#*&|<>$") {
		t.Fatalf("accepted unsafe name %q", s)
	}
	for _, r := range s {
		if r > unicode.MaxASCII || unicode.IsControl(r) || unicode.IsSpace(r) {
			t.Fatalf("accepted non-printable or non-ASCII name %q", s)
		}
	}
}
