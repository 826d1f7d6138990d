package scanner

import (
	"context"
	"net/http"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/peelscan/peel/rules"
)

// Kinds of signatures, as Signature.Kind says.
const (
	// SignatureCosign is a cosign signature in the legacy tag scheme: a
	// layer of the image tagged sha256-<digest>.sig.
	SignatureCosign = "cosign"
	// SignatureCosignBundle is a Sigstore bundle attached as an OCI 1.1
	// referrer (cosign sign --new-bundle-format).
	SignatureCosignBundle = "cosign-bundle"
	// SignatureNotation is a Notation (Notary Project) signature attached
	// as an OCI 1.1 referrer.
	SignatureNotation = "notation"
)

// SignatureSubject says where an image's signatures are to be looked up:
// the image's manifest digest (and the index's, when the input resolved
// through one), and how to reach the registry or the OCI layout that holds
// it. Open fills it in for registry and OCI layout inputs.
type SignatureSubject struct {
	Kind   string  // KindRegistry, KindOCI or KindOCIArchive
	Digest v1.Hash // the scanned image's manifest
	// Index is the index the input resolved to, when it did (signatures
	// on a multi-platform image are usually attached to it); zero
	// otherwise.
	Index v1.Hash

	// Ref, Remote and Transport reach a registry image: the reference
	// pulled (a mirror's, if one served it), the options it was pulled
	// with (credentials, retries) and their transport.
	Ref       name.Reference
	Remote    []remote.Option
	Transport http.RoundTripper

	// Layout is the index of an OCI layout (or archive) and Name the path
	// it was read from.
	Layout v1.ImageIndex
	Name   string
}

// Signatures is what was found of an image's signatures.
type Signatures struct {
	// Looked says the signatures were looked up; Error says why they
	// could not be (a registry failure, an input that carries none).
	Looked bool
	Error  string
	// Where lists where they were looked for: "referrers API",
	// "referrers tag sha256-…", "tag sha256-….sig", "OCI layout index".
	Where []string
	// Requests counts the registry requests the lookup made.
	Requests int
	Found    []Signature
}

// Signature is one signature of the image, verified or not.
type Signature struct {
	Kind    string // SignatureCosign, SignatureCosignBundle or SignatureNotation
	Digest  string // the signature's manifest (or, for a legacy cosign signature, layer) digest
	FoundBy string // where it was found, one of Signatures.Where
	Signs   string // the digest it is attached to: the image's, or its index's
	// MediaType is the signature envelope's: a Sigstore bundle version,
	// application/jose+json or application/cose for Notation.
	MediaType string
	Signer    Signer
	// Verified says the signature verifies (with VerifiedBy, the key file
	// or trust policy that verified it); Reason says what was checked, or
	// why it does not verify or was not tried.
	Verified   bool
	VerifiedBy string
	Reason     string
}

// Signer is who signed, as far as a signature says: the certificate's
// subject (a Fulcio certificate's email or URI, an X.509 subject) and
// issuer (a Fulcio certificate's OIDC issuer, an X.509 issuer), or, for a
// signature made with a bare key, what identifies the key.
type Signer struct {
	Subject string
	Issuer  string
	Key     string // a key hint (the SHA-256 of the public key, as cosign writes it)
}

// Status sums the signatures up: "unknown" (not looked up), "unsigned",
// "signed" (none verified) or "verified".
func (s *Signatures) Status() string {
	switch {
	case s == nil || !s.Looked:
		return "unknown"
	case len(s.Found) == 0:
		return "unsigned"
	}
	for _, sig := range s.Found {
		if sig.Verified {
			return "verified"
		}
	}
	return "signed"
}

// SignatureChecker looks up and verifies the signatures of an image; the
// scanner/signature package has the one peel uses. Check never fails: what
// went wrong is in Signatures.Error.
type SignatureChecker interface {
	Check(ctx context.Context, s *SignatureSubject) *Signatures
}

// SignatureSubject returns where the target's signatures are looked up, or
// nil for inputs that carry none (docker save archives, the daemon,
// directories).
func (t *Target) SignatureSubject() *SignatureSubject { return t.signatures }

// signatureLocation is the location chain of the finding an image without
// a verified signature makes.
var signatureLocation = []string{"image signature"}

// checkSignatures looks the target's signatures up, when the options ask
// for it, and with RequireSignature makes a finding of an image with none
// that verifies.
func (s *Scanner) checkSignatures(ctx context.Context, engine *rules.Engine, t *Target, res *Result) {
	if s.opts.Signatures == nil && !s.opts.RequireSignature {
		return
	}
	subj := t.SignatureSubject()
	var sigs *Signatures
	switch {
	case subj != nil && s.opts.Signatures != nil:
		sigs = s.opts.Signatures.Check(ctx, subj)
		res.Signatures = sigs
	case subj == nil:
		sigs = &Signatures{Error: "a " + t.Kind + " input carries no signatures: scan the image from its registry or an OCI layout"}
	default:
		sigs = &Signatures{Error: "no signature checker"}
	}
	if !s.opts.RequireSignature {
		return
	}
	st := rules.SignatureStatus{Looked: sigs.Looked, Found: len(sigs.Found), Reason: sigs.Error}
	for _, sig := range sigs.Found {
		if sig.Verified {
			st.Verified++
		}
	}
	r := engine.JudgeSignatures(st)
	for _, f := range r.Findings {
		res.Findings = append(res.Findings, Finding{Finding: f, Path: signatureLocation})
		if rule, ok := engine.Rule(f.RuleID); ok {
			if res.Rules == nil {
				res.Rules = map[string]rules.Rule{}
			}
			res.Rules[f.RuleID] = rule
		}
	}
}

// layoutSubject is where the signatures of the image digest of an OCI
// layout (or archive) at path are looked up: the layout's own index.
func layoutSubject(kind string, idx v1.ImageIndex, path, digest, index string) *SignatureSubject {
	d, err := v1.NewHash(digest)
	if err != nil {
		return nil
	}
	s := &SignatureSubject{Kind: kind, Digest: d, Layout: idx, Name: path}
	if h, err := v1.NewHash(index); err == nil {
		s.Index = h
	}
	return s
}

// remoteSubject is where the signatures of a registry image are looked up.
func remoteSubject(r name.Reference, digest, index v1.Hash, ropts []remote.Option, rt http.RoundTripper) *SignatureSubject {
	return &SignatureSubject{Kind: KindRegistry, Digest: digest, Index: index, Ref: r, Remote: ropts, Transport: rt}
}
