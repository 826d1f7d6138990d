// Package signature finds and verifies the signatures of container images:
// cosign signatures in the legacy tag scheme (an image tagged
// sha256-<digest>.sig), Sigstore bundles that cosign attaches as OCI 1.1
// referrers (cosign sign --new-bundle-format), and Notation signatures,
// also referrers. It asks a registry's referrers API, falling back to the
// referrers tag scheme (sha256-<digest>) where the registry has none, and
// reads an OCI layout's index the same way. With cosign public keys it
// verifies cosign signatures offline, as cosign does without a
// transparency log: the signature over the payload (or over the DSSE
// envelope's pre-authentication encoding, go-securesystemslib's), then the
// image digest the payload names; with a Notation trust policy and
// trust store it verifies Notation signatures with notation-go's verifier.
// A Checker is the scanner.SignatureChecker peel uses.
//
// Files: signature.go (the Checker), lookup.go (where signatures are
// found: registries and layouts), cosign.go (cosign's two formats),
// notation.go (Notation), keys.go (loading cosign public keys).
package signature

import (
	"context"
	"fmt"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/peelscan/peel/scanner"
)

// Options say what a Checker verifies with.
type Options struct {
	// Keys are the cosign public keys signatures are verified with
	// (LoadKey); none means cosign signatures are found, not verified.
	Keys []Key
	// Notation is the trust policy and trust store Notation signatures
	// are verified with (LoadNotation); nil means they are not verified.
	Notation *Notation
}

// Bounds of a lookup: how many signatures are read per image, and how
// large a signature manifest or blob may be.
const (
	MaxSignatures = 32
	maxManifest   = 1 << 20
	maxBlob       = 1 << 20
)

// Checker looks up the signatures of an image and verifies them with its
// Options. It is safe for concurrent use.
type Checker struct {
	opts Options
}

var _ scanner.SignatureChecker = (*Checker)(nil)

// New returns a Checker.
func New(opts Options) *Checker { return &Checker{opts: opts} }

// Check finds the subject's signatures and verifies each one it can. A
// failure to look them up is in the result's Error, with what was found
// before it.
func (c *Checker) Check(ctx context.Context, subj *scanner.SignatureSubject) *scanner.Signatures {
	var st store
	var rec *recorder
	switch {
	case subj.Layout != nil:
		st = &layoutStore{idx: subj.Layout}
	case subj.Ref != nil:
		rec = &recorder{next: subj.Transport}
		st = newRemoteStore(ctx, subj, rec)
	default:
		return &scanner.Signatures{Error: "no registry or layout to look the signatures up in"}
	}
	out := &scanner.Signatures{Looked: true}
	digests := []v1.Hash{subj.Digest}
	if subj.Index != (v1.Hash{}) && subj.Index != subj.Digest {
		digests = append(digests, subj.Index)
	}
	var errs []string
	for _, d := range digests {
		found, where, err := st.find(ctx, d)
		out.Where = append(out.Where, where...)
		if err != nil {
			errs = append(errs, err.Error())
		}
		for _, f := range found {
			if len(out.Found) == MaxSignatures {
				errs = append(errs, fmt.Sprintf("more than %d signatures: the rest were not read", MaxSignatures))
				break
			}
			out.Found = append(out.Found, c.read(ctx, subj, st, d, f))
		}
	}
	if rec != nil {
		out.Requests = rec.count()
	}
	if len(errs) > 0 {
		out.Error = strings.Join(errs, "; ")
		if len(out.Found) == 0 {
			out.Looked = false // nothing known: neither signed nor unsigned
		}
	}
	return out
}

// read reads and verifies one signature found for digest.
func (c *Checker) read(ctx context.Context, subj *scanner.SignatureSubject, st store, digest v1.Hash, f found) scanner.Signature {
	sig := scanner.Signature{Kind: f.kind, Digest: f.digest.String(), FoundBy: f.where, Signs: digest.String()}
	var err error
	switch f.kind {
	case scanner.SignatureCosign:
		err = c.cosignLegacy(ctx, st, digest, f, &sig)
	case scanner.SignatureCosignBundle:
		err = c.cosignBundle(ctx, st, digest, f, &sig)
	case scanner.SignatureNotation:
		err = c.notation(ctx, subj, st, digest, f, &sig)
	}
	if err != nil {
		sig.Verified, sig.VerifiedBy = false, ""
		sig.Reason = "not read: " + err.Error()
	}
	return sig
}
