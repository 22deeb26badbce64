package agentrpc

import (
	"path"
	"path/filepath"
	"strings"
	"unicode/utf8"
)

// Limits of the paths the file methods take, those of Linux: NAME_MAX for one component and
// PATH_MAX (less its terminating NUL) for the whole path.
const (
	// MaxNameLen is the longest file name (one path component), in bytes.
	MaxNameLen = 255
	// MaxPathLen is the longest path, in bytes.
	MaxPathLen = 4095
)

// KernelWorkDir is the kernel's working directory as the kernel sees it; file methods take
// paths relative to it, or absolute paths under it.
const KernelWorkDir = "/home/work"

// KernelPath checks a path argument of the file methods (upload_file, list_files,
// walk_files, read_file) and returns it relative to the kernel's working directory, cleaned
// ("." for the directory itself). Absolute paths under [KernelWorkDir] are accepted. It
// refuses, with a [KindInvalidInput] error whose Field is "path", a path with a NUL byte, a
// name longer than [MaxNameLen] bytes, a path longer than [MaxPathLen] bytes, and a path
// that leaves the working directory. The manager checks requests with it before calling an
// agent; the agent checks again, and confines what the path resolves to (symbolic links
// included) to the working directory.
func KernelPath(p string) (string, error) {
	if strings.IndexByte(p, 0) >= 0 {
		return "", FieldErrorf(KindInvalidInput, "path", "the path contains a NUL byte")
	}
	if len(p) > MaxPathLen {
		return "", FieldErrorf(KindInvalidInput, "path", "the path is longer than %d bytes", MaxPathLen)
	}
	if rest, ok := strings.CutPrefix(p, KernelWorkDir); ok && (rest == "" || rest[0] == '/') {
		p = strings.TrimPrefix(rest, "/")
	}
	if p == "" {
		p = "."
	}
	p = path.Clean(p)
	if p != "." && !filepath.IsLocal(p) {
		return "", FieldErrorf(KindInvalidInput, "path", "path %q escapes the kernel's working directory", p)
	}
	for name := range strings.SplitSeq(p, "/") {
		if len(name) > MaxNameLen {
			return "", FieldErrorf(KindInvalidInput, "path", "the name %q is longer than %d bytes", short(name), MaxNameLen)
		}
	}
	return p, nil
}

// short cuts a long name down for an error message, on a rune boundary.
func short(s string) string {
	const keep = 32
	if len(s) <= keep {
		return s
	}
	cut := keep
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
