package scanner

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// ListOptions choose the images ListImages names.
type ListOptions struct {
	// Tags is a glob (path.Match: *, ?, [a-z]) a tag must match; empty
	// means every tag.
	Tags string
	// MaxTags keeps at most this many tags per repository, the first in
	// lexical order; 0 keeps all.
	MaxTags int
	// PageSize is how many repositories each catalog request asks for
	// (default 100).
	PageSize int
}

// DefaultCatalogPage is the default number of repositories per catalog
// request.
const DefaultCatalogPage = 100

// IsRegistryHost says whether target names a whole registry rather than a
// repository: a single name with a dot or a port, or localhost, as the
// Docker client tells a registry host from a Docker Hub name.
func IsRegistryHost(target string) bool {
	if strings.Contains(target, "/") {
		return false
	}
	return strings.ContainsAny(target, ".:") || target == "localhost"
}

// ListImages names the images of a repository (HOST/REPO, or a Docker
// Hub name) by its tag list, or of a whole registry (HOST) by its catalog,
// read page by page, and then each repository's tags: HOST/REPO:TAG each,
// repositories in catalog order, tags in lexical order. Registry access
// (credentials, TLS, mirrors, deadlines) is as for a scan with opts. A
// registry that does not serve its catalog is an error that says so.
func ListImages(ctx context.Context, target string, lo ListOptions, opts SourceOptions) ([]string, error) {
	if opts.Platform == nil {
		opts.Platform = &v1.Platform{OS: "linux", Architecture: "amd64"}
	}
	if lo.Tags != "" {
		if _, err := path.Match(lo.Tags, ""); err != nil {
			return nil, fmt.Errorf("tag filter %q: %w", lo.Tags, err)
		}
	}
	if !IsRegistryHost(target) {
		return listRepo(ctx, target, lo, opts)
	}
	var nopts []name.Option
	if isInsecure(target, opts) {
		nopts = append(nopts, name.Insecure)
	}
	reg, err := name.NewRegistry(target, nopts...)
	if err != nil {
		return nil, fmt.Errorf("invalid registry %q: %w", target, err)
	}
	repos, err := catalog(ctx, reg, lo, opts)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, repo := range repos {
		refs, err := listRepo(ctx, reg.RegistryStr()+"/"+repo, lo, opts)
		if err != nil {
			return nil, err
		}
		out = append(out, refs...)
	}
	return out, nil
}

// hostRef stands for a registry where a reference is asked for:
// remoteOptions gives credentials by the reference's registry alone.
func hostRef(reg name.Registry) name.Reference { return reg.Repo("catalog").Tag("latest") }

// catalog reads the registry's catalog a page at a time, each page asking
// for the names after the last one seen; a page that does not move past
// it ends the listing with an error rather than a loop.
func catalog(ctx context.Context, reg name.Registry, lo ListOptions, opts SourceOptions) ([]string, error) {
	n := lo.PageSize
	if n <= 0 {
		n = DefaultCatalogPage
	}
	host := reg.RegistryStr()
	var out []string
	last := ""
	for {
		page, err := remote.CatalogPage(reg, last, n, remoteOptions(ctx, hostRef(reg), opts)...)
		if err != nil {
			return nil, catalogError(ctx, reg, opts, err)
		}
		for _, r := range page {
			if r <= last {
				return nil, fmt.Errorf("%s: the catalog does not move past %q (it answered %q again): refused", host, last, r)
			}
			out = append(out, r)
			last = r
		}
		if len(page) < n {
			return out, nil
		}
	}
}

// catalogError says that the registry refuses to list its repositories
// (Docker Hub and many hosted registries never do), or why it could not
// be asked.
func catalogError(ctx context.Context, reg name.Registry, opts SourceOptions, err error) error {
	host := reg.RegistryStr()
	var terr *transport.Error
	if errors.As(err, &terr) {
		switch terr.StatusCode {
		case http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusMethodNotAllowed, http.StatusNotImplemented:
			return &RegistryError{Kind: FailDenied, Host: host, Err: err,
				Msg: fmt.Sprintf("%s does not list its repositories (/v2/_catalog answered %s): name them, HOST/REPO or a file of references", host, statusText(terr.StatusCode))}
		}
	}
	return fmt.Errorf("listing the repositories of %s: %w", host, describeRegistryError(tlsCause(ctx, hostRef(reg), opts, err), host))
}

// listRepo lists a repository's tags, through the mirrors first for a
// Docker Hub repository, and names its images by the repository as given
// (a mirror serves Docker Hub names).
func listRepo(ctx context.Context, repoName string, lo ListOptions, opts SourceOptions) ([]string, error) {
	var nopts []name.Option
	if host, _, ok := strings.Cut(repoName, "/"); ok && isInsecure(host, opts) {
		nopts = append(nopts, name.Insecure)
	}
	repo, err := name.NewRepository(repoName, nopts...)
	if err != nil {
		return nil, fmt.Errorf("%s: not a repository (name one without a tag or digest to list its tags): %w", repoName, err)
	}
	ref := repo.Tag("latest") // stands for the repository where a reference is asked for
	var tags []string
	var mirrorErrs []string
	listed := false
	if repo.RegistryStr() == name.DefaultRegistry {
		for _, m := range opts.Mirrors {
			mr, err := onMirror(ref, m, opts)
			if err != nil {
				return nil, fmt.Errorf("mirror %s: %w", m, err)
			}
			if tags, err = remote.List(mr.Context(), remoteOptions(ctx, mr, opts)...); err == nil {
				listed = true
				break
			}
			mirrorErrs = append(mirrorErrs, fmt.Sprintf("mirror %s: %v", m, describeRegistryError(err, mr.Context().RegistryStr())))
		}
	}
	if !listed {
		if tags, err = remote.List(repo, remoteOptions(ctx, ref, opts)...); err != nil {
			err = describeRegistryError(tlsCause(ctx, ref, opts, err), repo.RegistryStr())
			if len(mirrorErrs) > 0 {
				return nil, fmt.Errorf("listing the tags of %s: %s; then %s: %w", repoName, strings.Join(mirrorErrs, "; "), repo.RegistryStr(), err)
			}
			return nil, fmt.Errorf("listing the tags of %s: %w", repoName, err)
		}
	}
	sort.Strings(tags)
	var out []string
	for _, tag := range tags {
		if lo.Tags != "" {
			if ok, _ := path.Match(lo.Tags, tag); !ok {
				continue
			}
		}
		if lo.MaxTags > 0 && len(out) == lo.MaxTags {
			break
		}
		out = append(out, strings.TrimSuffix(repoName, "/")+":"+tag)
	}
	return out, nil
}
