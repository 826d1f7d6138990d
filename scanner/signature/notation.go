package signature

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/notaryproject/notation-core-go/revocation"
	"github.com/notaryproject/notation-core-go/revocation/purpose"
	coresig "github.com/notaryproject/notation-core-go/signature"
	_ "github.com/notaryproject/notation-core-go/signature/cose" // Notation's COSE envelopes
	_ "github.com/notaryproject/notation-core-go/signature/jws"  // and JWS envelopes
	"github.com/notaryproject/notation-go"
	"github.com/notaryproject/notation-go/dir"
	"github.com/notaryproject/notation-go/verifier"
	"github.com/notaryproject/notation-go/verifier/trustpolicy"
	"github.com/notaryproject/notation-go/verifier/truststore"
	godigest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/peelscan/peel/scanner"
)

// maxPolicyFile bounds a trust policy file.
const maxPolicyFile = 1 << 20

// Notation is a Notation trust policy and trust store, as the notation
// CLI keeps them in its configuration directory (~/.config/notation):
// trustpolicy.json (or trustpolicy.oci.json) and truststore/x509/TYPE/NAME/.
type Notation struct {
	doc *trustpolicy.Document
	v   notation.Verifier
}

// LoadNotation reads the trust policy of a Notation configuration
// directory, and builds notation-go's verifier over it and the directory's
// trust store. Plugins are never run: a signature that needs one does not
// verify. Revocation is checked as the policy says (OCSP and CRL requests
// go out only for certificates that name such URLs; a policy can skip the
// check with "override": {"revocation": "skip"}).
func LoadNotation(configDir string) (*Notation, error) {
	var doc trustpolicy.Document
	var tried []string
	for _, name := range []string{"trustpolicy.oci.json", dir.PathTrustPolicy} {
		p := filepath.Join(configDir, name)
		st, err := os.Stat(p)
		if err != nil {
			tried = append(tried, name)
			continue
		}
		if !st.Mode().IsRegular() || st.Size() > maxPolicyFile {
			return nil, fmt.Errorf("%s: not a regular file of at most %d bytes", p, maxPolicyFile)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(b, &doc); err != nil {
			return nil, fmt.Errorf("%s: malformed trust policy: %w", p, err)
		}
		if err := doc.Validate(); err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		store := truststore.NewX509TrustStore(dir.NewSysFS(configDir))
		rv, err := revocation.NewWithOptions(revocation.Options{CertChainPurpose: purpose.CodeSigning})
		if err != nil {
			return nil, err
		}
		v, err := verifier.NewWithOptions(&doc, store, nil, verifier.VerifierOptions{RevocationCodeSigningValidator: rv})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		return &Notation{doc: &doc, v: v}, nil
	}
	return nil, fmt.Errorf("%s: no trust policy (%s)", configDir, strings.Join(tried, " or "))
}

// notation reads a Notation signature referrer: the envelope (JWS or
// COSE) is the manifest's layer, its signing certificate the signer. With
// a trust policy it is verified by notation-go against the manifest the
// signature's subject describes, referenced as REGISTRY/REPO@DIGEST (a
// layout as oci-layout/NAME@DIGEST), which picks the policy statement.
func (c *Checker) notation(ctx context.Context, subj *scanner.SignatureSubject, st store, digest v1.Hash, f found, sig *scanner.Signature) error {
	mt := string(f.layer.MediaType)
	sig.MediaType = mt
	body, err := st.blob(ctx, f.manifest, f.layer)
	if err != nil {
		return fmt.Errorf("reading the envelope: %w", err)
	}
	env, err := coresig.ParseEnvelope(mt, body)
	if err != nil {
		return fmt.Errorf("not a Notation envelope: %w", err)
	}
	if content, err := env.Content(); err == nil && len(content.SignerInfo.CertificateChain) > 0 {
		leaf := content.SignerInfo.CertificateChain[0]
		sig.Signer = scanner.Signer{Subject: leaf.Subject.String(), Issuer: leaf.Issuer.String()}
	}
	if c.opts.Notation == nil {
		sig.Reason = "not verified: no --notation-config given"
		return nil
	}
	desc := ocispec.Descriptor{MediaType: string(f.m.Subject.MediaType), Digest: godigest.Digest(f.m.Subject.Digest.String()), Size: f.m.Subject.Size}
	ref := notationReference(subj, digest)
	outcome, err := c.opts.Notation.v.Verify(ctx, desc, body, notation.VerifierVerifyOptions{ArtifactReference: ref, SignatureMediaType: mt})
	if err != nil {
		var noPolicy notation.NoApplicableTrustPolicyError
		if errors.As(err, &noPolicy) {
			sig.Reason = "not verified: no trust policy statement applies to " + ref
			return nil
		}
		sig.Reason = "not verified: " + oneLine(err.Error())
		return nil
	}
	name := "trust policy"
	if tp, err := c.opts.Notation.doc.GetApplicableTrustPolicy(ref); err == nil {
		name = "trust policy " + tp.Name
	}
	sig.Verified, sig.VerifiedBy = true, name
	level := ""
	if outcome != nil && outcome.VerificationLevel != nil {
		level = " (" + outcome.VerificationLevel.Name + ")"
	}
	sig.Reason = fmt.Sprintf("verified by %s%s: signs %s", name, level, short(digest.String()))
	return nil
}

// notationReference is how Notation names the signed artifact, for the
// trust policy's registry scopes.
func notationReference(subj *scanner.SignatureSubject, digest v1.Hash) string {
	if subj.Ref != nil {
		return subj.Ref.Context().Name() + "@" + digest.String()
	}
	return "oci-layout/" + strings.ToLower(filepath.Base(subj.Name)) + "@" + digest.String()
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
