package scanner

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// ReferenceError is an input taken for a registry reference that is not a
// valid one, saying what is wrong and, when it is clear, what was meant.
type ReferenceError struct {
	// Reason says what is wrong, in the user's terms.
	Reason string
	// Meant is the reference the input most likely stands for ("" when
	// none is clear): lowercased, or without its URL scheme.
	Meant string
	// Scheme is "http" or "https" when the input began with one; Host is
	// then the registry it names.
	Scheme, Host string
	// Err is go-containerregistry's parse error, when there is one.
	Err error
}

func (e *ReferenceError) Error() string {
	s := "invalid image reference: " + e.Reason
	if e.Meant != "" {
		s += " (" + e.Meant + ")"
	}
	return s
}

func (e *ReferenceError) Unwrap() error { return e.Err }

// ErrNoSuchFileOrImage is wrapped by the error for an argument that is
// neither an existing path nor a valid image reference.
var ErrNoSuchFileOrImage = errors.New("no such file or image")

// checkReference judges an input that is neither transport-prefixed nor
// an existing or path-like file, before any registry is asked, so that a
// mistake is told as such instead of as a registry's answer:
//
//   - a URL (http://HOST/NAME): a reference has no scheme;
//   - capitals in the repository: names are lowercase;
//   - anything else that does not parse: no such file or image;
//   - NAME/REST whose NAME is a local directory and that names no
//     registry, tag or digest (testdata/buld): a mistyped path, not a
//     Docker Hub repository (docker.io/NAME/REST says the latter).
//
// A short name (alpine, alpine:3.19) and ORG/NAME are Docker Hub's, as
// docker pull has them; a first component with a dot or a colon, or
// localhost, names a registry.
func checkReference(input string) error {
	if scheme, rest, ok := strings.Cut(input, "://"); ok {
		host, _, _ := strings.Cut(rest, "/")
		e := &ReferenceError{Reason: "a reference has no URL scheme", Scheme: strings.ToLower(scheme), Host: host}
		if _, err := name.ParseReference(rest); err == nil {
			e.Meant = rest
		}
		return e
	}
	ref, err := name.ParseReference(input)
	if err != nil {
		repo, id := splitIdentifier(input)
		if lower := strings.ToLower(repo); lower != repo {
			if _, err2 := name.ParseReference(lower + id); err2 == nil {
				return &ReferenceError{Reason: "an image name must be lowercase", Meant: lower + id, Err: err}
			}
		}
		return fmt.Errorf("%w (not a local path, nor a valid image reference)", ErrNoSuchFileOrImage)
	}
	first, _, hasSlash := strings.Cut(input, "/")
	if hasSlash && !explicitRegistry(first) && ref.Identifier() == "latest" && !strings.Contains(input, ":") && isDir(first) {
		return fmt.Errorf("no such file or directory (%s is a local directory; for the Docker Hub image, write docker.io/%s)", first, input)
	}
	return nil
}

// splitIdentifier splits NAME[:TAG][@DIGEST] into NAME and the rest.
func splitIdentifier(s string) (string, string) {
	if i := strings.IndexByte(s, '@'); i >= 0 {
		repo, _ := splitIdentifier(s[:i])
		return repo, s[len(repo):]
	}
	if i := strings.LastIndexByte(s, ':'); i > strings.LastIndexByte(s, '/') {
		return s[:i], s[i:]
	}
	return s, ""
}

// explicitRegistry tells a first path component that names a registry, as
// docker does: a dot or a colon in it, or localhost.
func explicitRegistry(first string) bool {
	return strings.ContainsAny(first, ".:") || first == "localhost"
}

// DockerHubImplied reports whether an input names a Docker Hub image
// without saying so (alpine, prabath/app:v1, not docker.io/alpine): a
// registry's "not found" for it may as well mean a mistyped path.
func DockerHubImplied(input string) bool {
	if strings.Contains(input, "://") || strings.HasPrefix(input, "docker:") {
		return false
	}
	first, _, hasSlash := strings.Cut(input, "/")
	if hasSlash && explicitRegistry(first) {
		return false
	}
	_, err := os.Stat(input)
	return err != nil && !looksLikePath(input)
}
