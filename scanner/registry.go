package scanner

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// openRemote resolves a registry reference. Docker Hub names are tried on
// each mirror first and on Docker Hub when no mirror has the image.
func openRemote(ctx context.Context, ref string, opts SourceOptions) (*Target, error) {
	r, err := parseRef(ref, opts)
	if err != nil {
		return nil, err
	}
	var mirrorErrs []string
	if r.Context().RegistryStr() == name.DefaultRegistry {
		for _, m := range opts.Mirrors {
			mr, err := onMirror(r, m, opts)
			if err != nil {
				return nil, fmt.Errorf("--registry-mirror %s: %w", m, err)
			}
			t, err := fetchRemote(ctx, mr, opts)
			if err == nil {
				return t, nil
			}
			mirrorErrs = append(mirrorErrs, fmt.Sprintf("mirror %s: %v", m, err))
		}
	}
	t, err := fetchRemote(ctx, r, opts)
	if err != nil && len(mirrorErrs) > 0 {
		return nil, fmt.Errorf("%s; then %s: %w", strings.Join(mirrorErrs, "; "), r.Context().RegistryStr(), err)
	}
	return t, err
}

func parseRef(ref string, opts SourceOptions) (name.Reference, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return nil, fmt.Errorf("invalid image reference: %w", err)
	}
	if isInsecure(r.Context().RegistryStr(), opts) {
		r, err = name.ParseReference(ref, name.Insecure)
	}
	return r, err
}

func isInsecure(host string, opts SourceOptions) bool {
	for _, h := range opts.Insecure {
		if strings.EqualFold(h, host) {
			return true
		}
	}
	return false
}

// onMirror rewrites a Docker Hub reference onto a mirror host:
// prabath/insecure-sts-ch10:v1 → MIRROR/prabath/insecure-sts-ch10:v1 (and
// alpine → MIRROR/library/alpine).
func onMirror(r name.Reference, mirror string, opts SourceOptions) (name.Reference, error) {
	mirror = strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(mirror, "https://"), "http://"), "/")
	var nopts []name.Option
	if isInsecure(mirror, opts) {
		nopts = append(nopts, name.Insecure)
	}
	sep := ":"
	if _, ok := r.(name.Digest); ok {
		sep = "@"
	}
	return name.ParseReference(mirror+"/"+r.Context().RepositoryStr()+sep+r.Identifier(), nopts...)
}

func remoteOptions(ctx context.Context, r name.Reference, opts SourceOptions) []remote.Option {
	kc := opts.Keychain
	if kc == nil {
		kc = authn.DefaultKeychain
	}
	if opts.Credentials != nil {
		kc = authn.NewMultiKeychain(registryCredentials{registry: r.Context().RegistryStr(), auth: opts.Credentials}, kc)
	}
	rt := opts.Transport
	if rt == nil {
		rt, _ = NewTransport(TransportOptions{})
	}
	return []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(kc),
		remote.WithPlatform(*opts.Platform),
		remote.WithTransport(rt),
		// Status codes are retried by the transport (it honours
		// Retry-After); network errors here, briefly.
		remote.WithRetryStatusCodes(),
		remote.WithRetryBackoff(remote.Backoff{Duration: 250 * time.Millisecond, Factor: 2, Jitter: 0.1, Steps: 3}),
	}
}

// registryCredentials gives its credentials to one registry only.
type registryCredentials struct {
	registry string
	auth     authn.Authenticator
}

func (c registryCredentials) Resolve(r authn.Resource) (authn.Authenticator, error) {
	if r.RegistryStr() == c.registry {
		return c.auth, nil
	}
	return authn.Anonymous, nil
}

func fetchRemote(ctx context.Context, r name.Reference, opts SourceOptions) (*Target, error) {
	var img v1.Image
	var err error
	// The config blob is fetched here, with the same bounded retries as
	// layers: go-containerregistry keeps a config whose read broke off, so
	// a retry needs a fresh image from the reference.
	for attempt := 1; ; attempt++ {
		img, err = remote.Image(r, remoteOptions(ctx, r, opts)...)
		if err == nil {
			_, err = img.RawConfigFile()
		}
		if err == nil || attempt == layerAttempts || !transient(err) || ctx.Err() != nil {
			break
		}
	}
	if err != nil {
		if transient(err) {
			return nil, fmt.Errorf("reading the image config: the connection dropped mid-transfer, %d times: %v", layerAttempts, oneLine(err.Error()))
		}
		return nil, describeRegistryError(tlsCause(ctx, r, opts, err))
	}
	t := &Target{Kind: KindRegistry, Image: StoredImage(img, remoteStorage), Ref: r.Name()}
	if d, err := img.Digest(); err == nil {
		t.Digest = d.String()
	}
	return t, nil
}

// openRemoteAll returns every image of a registry index (skipping
// attestation manifests, whose platform is unknown/unknown), or the one
// image a plain manifest names.
func openRemoteAll(ctx context.Context, input string, opts SourceOptions) ([]*Target, error) {
	r, err := parseRef(input, opts)
	if err != nil {
		return nil, err
	}
	if r.Context().RegistryStr() == name.DefaultRegistry && len(opts.Mirrors) > 0 {
		// Resolve through the mirrors like a single image, then list the
		// index where it was found.
		t, err := openRemote(ctx, input, opts)
		if err != nil {
			return nil, err
		}
		if r, err = parseRef(t.Ref, opts); err != nil {
			return nil, err
		}
	}
	desc, err := remote.Get(r, remoteOptions(ctx, r, opts)...)
	if err != nil {
		return nil, describeRegistryError(err)
	}
	if !desc.MediaType.IsIndex() {
		t, err := fetchRemote(ctx, r, opts)
		if err != nil {
			return nil, err
		}
		return []*Target{t}, nil
	}
	idx, err := desc.ImageIndex()
	if err != nil {
		return nil, describeRegistryError(err)
	}
	ts, err := indexTargets(idx, KindRegistry, input)
	for _, t := range ts {
		t.Image = StoredImage(t.Image, remoteStorage)
	}
	return ts, err
}

// indexTargets lists the images of an index, one target each, named
// "INPUT (os/arch)".
func indexTargets(idx v1.ImageIndex, kind, input string) ([]*Target, error) {
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, describeRegistryError(err)
	}
	var out []*Target
	for _, d := range im.Manifests {
		if d.MediaType.IsIndex() || d.Platform == nil || d.Platform.OS == "unknown" {
			continue
		}
		img, err := idx.Image(d.Digest)
		if err != nil {
			return nil, describeRegistryError(err)
		}
		out = append(out, &Target{Kind: kind, Image: img, Digest: d.Digest.String(), Input: input + " (" + platformName(d.Platform) + ")"})
	}
	if len(out) == 0 {
		return nil, errors.New("the index holds no platform images")
	}
	return out, nil
}

// tlsCause finds the TLS error behind an HTTPS registry answering plain
// HTTP: for loopback and private hosts go-containerregistry falls back to
// HTTP when HTTPS fails, and the registry's "Client sent an HTTP request to
// an HTTPS server" would hide why HTTPS failed.
func tlsCause(ctx context.Context, r name.Reference, opts SourceOptions, err error) error {
	if !strings.Contains(err.Error(), "HTTP request to an HTTPS server") {
		return err
	}
	rt := opts.Transport
	if rt == nil {
		rt, _ = NewTransport(TransportOptions{})
	}
	req, rerr := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+r.Context().RegistryStr()+"/v2/", nil)
	if rerr != nil {
		return err
	}
	resp, perr := (&http.Client{Transport: rt, Timeout: 10 * time.Second}).Do(req)
	if perr != nil {
		return perr
	}
	resp.Body.Close()
	return err
}

// describeRegistryError turns a registry failure into one line that says
// what went wrong and what to do.
func describeRegistryError(err error) error {
	var terr *transport.Error
	var unknownCA x509.UnknownAuthorityError
	var certInvalid x509.CertificateInvalidError
	var hostErr x509.HostnameError
	switch {
	case errors.As(err, &terr):
		switch terr.StatusCode {
		case http.StatusUnauthorized:
			return fmt.Errorf("authentication failed (%s): check the credentials (DOCKER_CONFIG, --username/--password-stdin)", statusText(terr.StatusCode))
		case http.StatusForbidden:
			return fmt.Errorf("access denied (%s)", statusText(terr.StatusCode))
		case http.StatusNotFound:
			return fmt.Errorf("not found (%s): no such repository, tag or digest", statusText(terr.StatusCode))
		case http.StatusTooManyRequests:
			return fmt.Errorf("%w (%s): the registry still refused after the retries", ErrRateLimited, statusText(terr.StatusCode))
		}
		for _, d := range terr.Errors {
			if d.Code == transport.ManifestUnknownErrorCode || d.Code == transport.NameUnknownErrorCode {
				return fmt.Errorf("not found (%s): %s", d.Code, oneLine(d.Message))
			}
		}
		return fmt.Errorf("registry error (%s): %s", statusText(terr.StatusCode), oneLine(terr.Error()))
	case errors.As(err, &unknownCA):
		return errors.New("TLS: the registry's certificate is signed by an unknown authority (pass its CA with --ca-file, or --insecure-registry HOST)")
	case errors.As(err, &certInvalid), errors.As(err, &hostErr):
		return fmt.Errorf("TLS: %s (pass --ca-file, or --insecure-registry HOST)", oneLine(err.Error()))
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("connection refused: %s", oneLine(dialTarget(err)))
	}
	return errors.New(oneLine(err.Error()))
}

func dialTarget(err error) string {
	var op *net.OpError
	if errors.As(err, &op) && op.Addr != nil {
		return "nothing listens on " + op.Addr.String()
	}
	return err.Error()
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
