package scanner

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
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
	log := logger(opts.Logger)
	var mirrorErrs []string
	if r.Context().RegistryStr() == name.DefaultRegistry {
		for _, m := range opts.Mirrors {
			mr, err := onMirror(r, m, opts)
			if err != nil {
				return nil, fmt.Errorf("mirror %s: %w", m, err)
			}
			log.Debug("trying a mirror", "mirror", m, "ref", mr.Name())
			t, err := fetchRemote(ctx, mr, opts)
			if err == nil {
				return t, nil
			}
			log.Debug("the mirror did not serve the image", "mirror", m, "error", err.Error())
			mirrorErrs = append(mirrorErrs, fmt.Sprintf("mirror %s: %v", m, err))
		}
	}
	log.Debug("pulling", "registry", r.Context().RegistryStr(), "ref", r.Name())
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
	rt := transportOf(opts)
	return []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(kc),
		remote.WithPlatform(*opts.Platform),
		remote.WithTransport(rt),
		// Status codes are retried by the transport (it honours
		// Retry-After); network errors here, briefly.
		remote.WithRetryStatusCodes(),
		remote.WithRetryBackoff(remote.Backoff{Duration: 250 * time.Millisecond, Factor: 2, Jitter: 0.1, Steps: 3}),
		remote.WithRetryPredicate(retryRequest),
	}
}

// transportOf is the transport registry requests go through.
func transportOf(opts SourceOptions) http.RoundTripper {
	if opts.Transport != nil {
		return opts.Transport
	}
	rt, _ := NewTransport(TransportOptions{})
	return rt
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
	var (
		img   v1.Image
		index v1.Hash // the index the reference names, if it names one
		err   error
	)
	// The config blob is fetched here, with the same bounded retries as
	// layers: go-containerregistry keeps a config whose read broke off, so
	// a retry needs a fresh image from the reference. The manifest (or
	// index) is fetched as remote.Image does, keeping the index's digest
	// for the signature lookup.
	for attempt := 1; ; attempt++ {
		var desc *remote.Descriptor
		desc, err = remote.Get(r, remoteOptions(ctx, r, opts)...)
		if err == nil {
			if desc.MediaType.IsIndex() {
				index = desc.Digest
			}
			img, err = desc.Image()
		}
		if err == nil {
			_, err = img.RawConfigFile()
		}
		if err == nil || attempt == layerAttempts || !transient(err) || ctx.Err() != nil {
			break
		}
	}
	if err != nil {
		if transient(err) {
			return nil, fmt.Errorf("reading the image config: the connection dropped mid-transfer, %d times: %w", layerAttempts, err)
		}
		return nil, describeRegistryError(tlsCause(ctx, r, opts, err), r.Context().RegistryStr())
	}
	t := &Target{Kind: KindRegistry, Ref: r.Name()}
	if d, err := img.Digest(); err == nil {
		t.Digest = d.String()
		t.signatures = remoteSubject(r, d, index, remoteOptions(ctx, r, opts), transportOf(opts))
	}
	if !opts.AllowForeignLayers {
		img = registryOnly{Image: img, ref: r, opts: remoteOptions(ctx, r, opts)}
	}
	t.Image = StoredImage(img, remoteStorage)
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
		return nil, describeRegistryError(tlsCause(ctx, r, opts, err), r.Context().RegistryStr())
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
		return nil, describeRegistryError(err, r.Context().RegistryStr())
	}
	ts, err := indexTargets(idx, KindRegistry, input)
	if err == nil {
		for _, t := range ts {
			if d, err := v1.NewHash(t.Digest); err == nil {
				t.signatures = remoteSubject(r, d, desc.Digest, remoteOptions(ctx, r, opts), transportOf(opts))
			}
			if !opts.AllowForeignLayers {
				t.Image = registryOnly{Image: t.Image, ref: r, opts: remoteOptions(ctx, r, opts)}
			}
			t.Image = StoredImage(t.Image, remoteStorage)
		}
	}
	return ts, err
}

// indexTargets lists the images of an index, one target each, named
// "INPUT (os/arch)".
func indexTargets(idx v1.ImageIndex, kind, input string) ([]*Target, error) {
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, describeRegistryError(err, "")
	}
	var out []*Target
	var images []v1.Descriptor
	for _, d := range im.Manifests {
		if !d.MediaType.IsIndex() && (d.Platform == nil || d.Platform.OS != "unknown") {
			images = append(images, d)
		}
	}
	for _, d := range images {
		if d.Platform == nil && len(images) > 1 {
			continue // which of several is it? Only --platform-less Open can say.
		}
		img, err := idx.Image(d.Digest)
		if err != nil {
			return nil, describeRegistryError(err, "")
		}
		t := &Target{Kind: kind, Image: img, Digest: d.Digest.String(), Input: input}
		if d.Platform != nil {
			t.Input += " (" + platformName(d.Platform) + ")"
		}
		out = append(out, t)
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
	if !strings.Contains(err.Error(), "HTTP request to an HTTPS server") || errors.Is(err, ErrStalled) || isTLSFailure(err) {
		return err // nothing hidden, or the HTTPS failure is already in err
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
		if isTLSFailure(perr) {
			return perr
		}
		return err // a stall or the caller's deadline: the first answer stands
	}
	resp.Body.Close()
	return err
}

// RegistryFailure classifies a registry failure, for callers that act on
// it: a command line adds advice naming its flags.
type RegistryFailure string

// Registry failures.
const (
	FailAuth        RegistryFailure = "auth"         // 401: wrong or missing credentials
	FailDenied      RegistryFailure = "denied"       // 403
	FailNotFound    RegistryFailure = "not-found"    // no such repository, tag or digest
	FailRateLimited RegistryFailure = "rate-limited" // 429 after the retries
	FailDNS         RegistryFailure = "dns"          // the host name does not resolve
	FailRefused     RegistryFailure = "refused"      // nothing listens on the port
	FailUnknownCA   RegistryFailure = "unknown-ca"   // TLS: certificate from an unknown authority
	FailTLS         RegistryFailure = "tls"          // any other TLS failure
	FailStalled     RegistryFailure = "stalled"      // a deadline passed: see NetError
	FailOther       RegistryFailure = "other"
)

// RegistryError is a registry failure in one line, classified by Kind; Err
// is the cause (a *transport.Error, an x509 error, a *NetError …).
type RegistryError struct {
	Kind RegistryFailure
	Host string // the registry, host[:port]
	Msg  string
	Err  error
}

func (e *RegistryError) Error() string { return e.Msg }
func (e *RegistryError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrRateLimited) hold for a rate-limited request.
func (e *RegistryError) Is(target error) bool {
	return target == ErrRateLimited && e.Kind == FailRateLimited
}

// describeRegistryError turns a failure reaching host into one line that
// says what went wrong, keeping the cause. The caller's cancellation and
// deadline pass through unchanged.
func describeRegistryError(err error, host string) error {
	fail := func(kind RegistryFailure, format string, args ...any) error {
		return &RegistryError{Kind: kind, Host: host, Msg: fmt.Sprintf(format, args...), Err: err}
	}
	// A stall is checked first: net/http's timeouts also match
	// context.DeadlineExceeded.
	var stall *NetError
	if errors.As(err, &stall) && stall.Stalled {
		return fail(FailStalled, "%s", stall.Error())
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var (
		terr        *transport.Error
		dnsErr      *net.DNSError
		unknownCA   x509.UnknownAuthorityError
		certInvalid x509.CertificateInvalidError
		hostErr     x509.HostnameError
		recordErr   tls.RecordHeaderError
		alertErr    tls.AlertError
	)
	switch {
	// TLS first: for a loopback host go-containerregistry also tries plain
	// HTTP, whose "HTTP request to an HTTPS server" is not the story.
	case errors.As(err, &unknownCA):
		return fail(FailUnknownCA, "TLS: the certificate of %s is signed by an unknown authority", host)
	case errors.As(err, &certInvalid), errors.As(err, &hostErr), errors.As(err, &recordErr), errors.As(err, &alertErr):
		return fail(FailTLS, "TLS with %s failed: %s", host, oneLine(tlsReason(err)))
	case errors.As(err, &terr):
		switch terr.StatusCode {
		case http.StatusUnauthorized:
			return fail(FailAuth, "authentication failed (%s)", statusText(terr.StatusCode))
		case http.StatusForbidden:
			return fail(FailDenied, "access denied (%s)", statusText(terr.StatusCode))
		case http.StatusNotFound:
			return fail(FailNotFound, "not found (%s): no such repository, tag or digest", statusText(terr.StatusCode))
		case http.StatusTooManyRequests:
			return fail(FailRateLimited, "%v (%s): the registry still refused after the retries", ErrRateLimited, statusText(terr.StatusCode))
		}
		for _, d := range terr.Errors {
			if d.Code == transport.ManifestUnknownErrorCode || d.Code == transport.NameUnknownErrorCode {
				return fail(FailNotFound, "not found (%s): %s", d.Code, oneLine(d.Message))
			}
		}
		return fail(FailOther, "registry error (%s): %s", statusText(terr.StatusCode), oneLine(terr.Error()))
	case errors.As(err, &dnsErr):
		if dnsErr.IsNotFound {
			return fail(FailDNS, "no such host: %s (the DNS lookup found no address)", dnsErr.Name)
		}
		return fail(FailDNS, "DNS lookup of %s failed: %s", dnsErr.Name, oneLine(dnsErr.Err))
	case errors.Is(err, syscall.ECONNREFUSED):
		return fail(FailRefused, "connection refused: %s", oneLine(dialTarget(err)))
	}
	return fail(FailOther, "%s", oneLine(err.Error()))
}

// tlsReason is the TLS part of a failure's text, without the request
// around it.
func tlsReason(err error) string {
	var certInvalid x509.CertificateInvalidError
	var hostErr x509.HostnameError
	var recordErr tls.RecordHeaderError
	var alertErr tls.AlertError
	switch {
	case errors.As(err, &certInvalid):
		return certInvalid.Error()
	case errors.As(err, &hostErr):
		return hostErr.Error()
	case errors.As(err, &recordErr):
		return recordErr.Error()
	case errors.As(err, &alertErr):
		return alertErr.Error()
	}
	return err.Error()
}

// transientNet reports network failures worth trying again: a connection
// reset or closed mid-transfer. A host that does not resolve, refuses the
// connection, fails TLS or stalls past a deadline fails the same way
// again, and at once.
func transientNet(err error) bool {
	var dnsErr *net.DNSError
	switch {
	case err == nil:
		return false
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded), errors.Is(err, ErrStalled),
		errors.As(err, &dnsErr), errors.Is(err, syscall.ECONNREFUSED), isTLSFailure(err):
		return false
	}
	msg := err.Error()
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		strings.Contains(msg, "connection reset") || strings.Contains(msg, "unexpected EOF")
}

// retryRequest is the retry predicate for go-containerregistry's requests:
// transient failures, and a connection closed before any answer.
func retryRequest(err error) bool {
	return transientNet(err) || errors.Is(err, io.EOF) && !errors.Is(err, ErrStalled)
}

func isTLSFailure(err error) bool {
	var unknownCA x509.UnknownAuthorityError
	var certInvalid x509.CertificateInvalidError
	var hostErr x509.HostnameError
	var recordErr tls.RecordHeaderError
	var alertErr tls.AlertError
	var verifyErr *tls.CertificateVerificationError
	return errors.As(err, &unknownCA) || errors.As(err, &certInvalid) || errors.As(err, &hostErr) ||
		errors.As(err, &recordErr) || errors.As(err, &alertErr) || errors.As(err, &verifyErr)
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
