package signature

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/peelscan/peel/scanner"
)

// Media and artifact types of the signatures read.
const (
	cosignSimpleSigning = "application/vnd.dev.cosign.simplesigning.v1+json"
	sigstoreBundle      = "application/vnd.dev.sigstore.bundle" // then .v0.3+json, …
	notationSignature   = "application/vnd.cncf.notary.signature"
	cosignSignPredicate = "https://sigstore.dev/cosign/sign/v1"
	// cosign save marks the signature image of a layout with this
	// annotation ("kind").
	cosignSigsKind = "dev.cosignproject.cosign/sigs"
)

// found is a signature found, not yet read: where it is and the manifest
// and layer that hold it.
type found struct {
	kind     string
	digest   v1.Hash // the signature's manifest, or for a legacy cosign signature its layer
	where    string
	manifest v1.Hash // the manifest holding it
	m        *v1.Manifest
	layer    v1.Descriptor
}

// store is where signatures are looked up: a registry repository or an
// OCI layout.
type store interface {
	// referrers lists the manifests that name d as their subject, and
	// says where they were listed.
	referrers(ctx context.Context, d v1.Hash) ([]v1.Descriptor, string, error)
	// tagged returns the manifest a tag names, and its digest; nil when
	// the tag does not exist.
	tagged(ctx context.Context, tag string) ([]byte, v1.Hash, error)
	// manifest returns a manifest by digest.
	manifest(ctx context.Context, d v1.Hash) ([]byte, error)
	// blob returns a blob the manifest m lists, at most maxBlob bytes.
	blob(ctx context.Context, m v1.Hash, d v1.Descriptor) ([]byte, error)
	// find lists the signatures attached to d.
	find(ctx context.Context, d v1.Hash) ([]found, []string, error)
}

// findIn lists the signatures attached to d in st: the referrers that are
// cosign bundles or Notation signatures, then the layers of the legacy
// cosign tag sha256-<hex>.sig.
func findIn(ctx context.Context, st store, d v1.Hash) ([]found, []string, error) {
	var out []found
	var where []string
	descs, w, err := st.referrers(ctx, d)
	if err != nil {
		return nil, []string{w}, fmt.Errorf("listing the referrers of %s: %w", d, err)
	}
	where = append(where, w)
	for i, desc := range descs {
		if i == 4*MaxSignatures {
			break
		}
		at := desc.ArtifactType
		switch at {
		case "", "application/vnd.oci.empty.v1+json", string(types.OCIConfigJSON):
			// Not said, or a config's type, as go-containerregistry writes
			// into the referrers tag: the manifest says.
			at = ""
		default:
			if kindOf(at) == "" {
				continue // an attestation, an SBOM: no signature
			}
		}
		raw, err := st.manifest(ctx, desc.Digest)
		if err != nil {
			return out, where, fmt.Errorf("reading referrer %s: %w", desc.Digest, err)
		}
		m, err := v1.ParseManifest(bytes.NewReader(raw))
		if err != nil {
			continue // an index or something else: no signature
		}
		if m.ArtifactType != "" {
			at = m.ArtifactType
		} else if at == "" {
			at = string(m.Config.MediaType)
		}
		kind := kindOf(at)
		if kind == "" || m.Subject == nil || m.Subject.Digest != d || len(m.Layers) == 0 {
			continue
		}
		if kind == scanner.SignatureCosignBundle {
			if p := m.Annotations["dev.sigstore.bundle.predicateType"]; p != "" && p != cosignSignPredicate {
				continue // a cosign attestation
			}
		}
		out = append(out, found{kind: kind, digest: desc.Digest, where: w, manifest: desc.Digest, m: m, layer: m.Layers[0]})
	}
	tag := strings.Replace(d.String(), ":", "-", 1) + ".sig"
	where = append(where, "tag "+tag)
	raw, md, err := st.tagged(ctx, tag)
	if err != nil {
		return out, where, fmt.Errorf("reading tag %s: %w", tag, err)
	}
	if raw != nil {
		m, err := v1.ParseManifest(bytes.NewReader(raw))
		if err != nil {
			return out, where, fmt.Errorf("tag %s: %w", tag, err)
		}
		for _, l := range m.Layers {
			if l.MediaType == cosignSimpleSigning {
				out = append(out, found{kind: scanner.SignatureCosign, digest: l.Digest, where: "tag " + tag, manifest: md, m: m, layer: l})
			}
		}
	}
	return out, where, nil
}

// kindOf is the signature kind of an artifact type, or "".
func kindOf(artifactType string) string {
	switch {
	case strings.HasPrefix(artifactType, sigstoreBundle):
		return scanner.SignatureCosignBundle
	case artifactType == notationSignature:
		return scanner.SignatureNotation
	}
	return ""
}

// readChecked reads at most max bytes of what rc holds and checks them
// against the descriptor's digest: a signature's bytes are not trusted
// for what their name says.
func readChecked(rc io.ReadCloser, d v1.Descriptor, max int64) ([]byte, error) {
	defer rc.Close()
	if d.Size > max {
		return nil, fmt.Errorf("%s is %d bytes, over the %d-byte limit", d.Digest, d.Size, max)
	}
	b, err := io.ReadAll(io.LimitReader(rc, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s is over the %d-byte limit", d.Digest, max)
	}
	if err := checkDigest(b, d.Digest); err != nil {
		return nil, err
	}
	return b, nil
}

func checkDigest(b []byte, want v1.Hash) error {
	if want.Algorithm != "sha256" {
		return fmt.Errorf("digest %s: only sha256 is read", want)
	}
	sum := sha256.Sum256(b)
	if hex.EncodeToString(sum[:]) != want.Hex {
		return fmt.Errorf("%s: content does not match its digest", want)
	}
	return nil
}

// remoteStore is a registry repository, reached with the options the
// image was pulled with.
type remoteStore struct {
	repo name.Repository
	opts []remote.Option
	rec  *recorder
}

func newRemoteStore(ctx context.Context, subj *scanner.SignatureSubject, rec *recorder) *remoteStore {
	opts := append(append([]remote.Option(nil), subj.Remote...), remote.WithContext(ctx), remote.WithTransport(rec))
	// One puller for the lookup's requests: one ping and one token for
	// the repository, not one per request.
	if p, err := remote.NewPuller(opts...); err == nil {
		opts = append(opts, remote.Reuse(p))
	}
	return &remoteStore{repo: subj.Ref.Context(), opts: opts, rec: rec}
}

func (s *remoteStore) find(ctx context.Context, d v1.Hash) ([]found, []string, error) {
	return findIn(ctx, s, d)
}

func (s *remoteStore) referrers(_ context.Context, d v1.Hash) ([]v1.Descriptor, string, error) {
	before := s.rec.count()
	idx, err := remote.Referrers(s.repo.Digest(d.String()), s.opts...)
	where := "referrers tag " + strings.Replace(d.String(), ":", "-", 1)
	if s.rec.referrersAnswered(before) {
		where = "referrers API"
	}
	if err != nil {
		return nil, where, err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, where, err
	}
	return im.Manifests, where, nil
}

func (s *remoteStore) tagged(_ context.Context, tag string) ([]byte, v1.Hash, error) {
	desc, err := remote.Get(s.repo.Tag(tag), s.opts...)
	if err != nil {
		if notFound(err) {
			return nil, v1.Hash{}, nil
		}
		return nil, v1.Hash{}, err
	}
	if desc.Size > maxManifest {
		return nil, v1.Hash{}, fmt.Errorf("manifest of %d bytes is over the limit", desc.Size)
	}
	return desc.Manifest, desc.Digest, nil
}

func (s *remoteStore) manifest(_ context.Context, d v1.Hash) ([]byte, error) {
	desc, err := remote.Get(s.repo.Digest(d.String()), s.opts...)
	if err != nil {
		return nil, err
	}
	if desc.Size > maxManifest {
		return nil, fmt.Errorf("manifest of %d bytes is over the limit", desc.Size)
	}
	return desc.Manifest, nil
}

func (s *remoteStore) blob(_ context.Context, _ v1.Hash, d v1.Descriptor) ([]byte, error) {
	l, err := remote.Layer(s.repo.Digest(d.Digest.String()), s.opts...)
	if err != nil {
		return nil, err
	}
	rc, err := l.Compressed()
	if err != nil {
		return nil, err
	}
	return readChecked(rc, d, maxBlob)
}

// notFound says a registry has no such manifest.
func notFound(err error) bool {
	var terr *transport.Error
	if !errors.As(err, &terr) {
		return false
	}
	if terr.StatusCode == http.StatusNotFound {
		return true
	}
	for _, d := range terr.Errors {
		if d.Code == transport.ManifestUnknownErrorCode || d.Code == transport.NameUnknownErrorCode {
			return true
		}
	}
	return false
}

// recorder counts the requests of a lookup, and notes whether the
// registry's referrers API answered (go-containerregistry falls back to
// the referrers tag by itself).
type recorder struct {
	next http.RoundTripper
	mu   sync.Mutex
	reqs []recorded
}

type recorded struct {
	referrers bool // a request to the referrers API answered with an index
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.next.RoundTrip(req)
	rec := recorded{}
	if err == nil && strings.Contains(req.URL.Path, "/referrers/") && resp.StatusCode == http.StatusOK &&
		strings.HasPrefix(resp.Header.Get("Content-Type"), "application/vnd.oci.image.index.v1+json") {
		rec.referrers = true
	}
	r.mu.Lock()
	r.reqs = append(r.reqs, rec)
	r.mu.Unlock()
	return resp, err
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.reqs)
}

// referrersAnswered says the referrers API answered since request n.
func (r *recorder) referrersAnswered(n int) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, q := range r.reqs[n:] {
		if q.referrers {
			return true
		}
	}
	return false
}

// layoutStore is an OCI layout (or archive), whose index lists the
// signatures beside the image: the referrers that name the image as their
// subject (as oras and notation write them), the referrers tag index, and
// cosign's .sig image (tagged, or marked by cosign save).
type layoutStore struct {
	idx v1.ImageIndex
}

// blobber opens a blob of a layout by digest; go-containerregistry's
// layout index and the scanner's OCI archive index both do.
type blobber interface {
	Blob(h v1.Hash) (io.ReadCloser, error)
}

func (s *layoutStore) find(ctx context.Context, d v1.Hash) ([]found, []string, error) {
	return findIn(ctx, s, d)
}

func (s *layoutStore) open(h v1.Hash) (io.ReadCloser, error) {
	b, ok := s.idx.(blobber)
	if !ok {
		return nil, errors.New("the layout's blobs cannot be read by digest")
	}
	return b.Blob(h)
}

func (s *layoutStore) referrers(ctx context.Context, d v1.Hash) ([]v1.Descriptor, string, error) {
	const where = "OCI layout index"
	im, err := s.idx.IndexManifest()
	if err != nil {
		return nil, where, err
	}
	fallback := strings.Replace(d.String(), ":", "-", 1)
	var out []v1.Descriptor
	for _, desc := range im.Manifests {
		switch {
		case desc.Digest == d:
		case desc.MediaType.IsIndex() && desc.Annotations["org.opencontainers.image.ref.name"] == fallback:
			raw, err := s.manifest(ctx, desc.Digest)
			if err != nil {
				return nil, where, err
			}
			child, err := v1.ParseIndexManifest(bytes.NewReader(raw))
			if err != nil {
				return nil, where, err
			}
			out = append(out, child.Manifests...)
		case desc.MediaType.IsImage():
			out = append(out, desc) // findIn keeps those whose subject is d
		}
	}
	return out, where, nil
}

func (s *layoutStore) tagged(ctx context.Context, tag string) ([]byte, v1.Hash, error) {
	im, err := s.idx.IndexManifest()
	if err != nil {
		return nil, v1.Hash{}, err
	}
	for _, desc := range im.Manifests {
		if desc.Annotations["org.opencontainers.image.ref.name"] == tag || desc.Annotations["kind"] == cosignSigsKind {
			raw, err := s.manifest(ctx, desc.Digest)
			return raw, desc.Digest, err
		}
	}
	return nil, v1.Hash{}, nil
}

func (s *layoutStore) manifest(_ context.Context, d v1.Hash) ([]byte, error) {
	rc, err := s.open(d)
	if err != nil {
		return nil, err
	}
	return readChecked(rc, v1.Descriptor{Digest: d}, maxManifest)
}

func (s *layoutStore) blob(_ context.Context, _ v1.Hash, d v1.Descriptor) ([]byte, error) {
	rc, err := s.open(d.Digest)
	if err != nil {
		return nil, err
	}
	return readChecked(rc, d, maxBlob)
}
