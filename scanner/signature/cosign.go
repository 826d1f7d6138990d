package signature

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature/payload"

	"github.com/peelscan/peel/scanner"
)

// Annotations of a legacy cosign signature layer.
const (
	annotationSignature   = "dev.cosignproject.cosign/signature"
	annotationCertificate = "dev.sigstore.cosign/certificate"
)

// cosignLegacy reads a signature of the legacy tag scheme: the layer is
// the simple-signing payload, its annotation the signature over it and,
// for a keyless signature, the Fulcio certificate. It verifies with each
// key: the signature over the payload, then the payload's digest against
// the one the signature is attached to.
func (c *Checker) cosignLegacy(ctx context.Context, st store, digest v1.Hash, f found, sig *scanner.Signature) error {
	sig.MediaType = string(f.layer.MediaType)
	raw, err := base64.StdEncoding.DecodeString(f.layer.Annotations[annotationSignature])
	if err != nil || len(raw) == 0 {
		return errors.New("the layer has no signature annotation")
	}
	if pemCert := f.layer.Annotations[annotationCertificate]; pemCert != "" {
		if certs, err := cryptoutils.UnmarshalCertificatesFromPEMLimited([]byte(pemCert), 4); err == nil && len(certs) > 0 {
			sig.Signer = fulcioSigner(certs[0])
		}
	}
	body, err := st.blob(ctx, f.manifest, f.layer)
	if err != nil {
		return fmt.Errorf("reading the payload: %w", err)
	}
	var p payload.SimpleContainerImage
	if err := json.Unmarshal(body, &p); err != nil {
		return fmt.Errorf("the payload is not cosign's simple-signing JSON: %w", err)
	}
	signed := p.Critical.Image.DockerManifestDigest
	c.verifyWith(sig, digest, signed, func(k Key) bool {
		return k.verify(raw, body)
	})
	return nil
}

// cosignBundle reads a Sigstore bundle referrer: a DSSE envelope of an
// in-toto statement whose subject is the image (cosign sign
// --new-bundle-format), signed by a key (the bundle names it by a hint) or
// a Fulcio certificate. It verifies with each key: the DSSE signature over
// the envelope's pre-authentication encoding, then the statement's
// subject digest and predicate.
func (c *Checker) cosignBundle(ctx context.Context, st store, digest v1.Hash, f found, sig *scanner.Signature) error {
	sig.MediaType = string(f.layer.MediaType)
	body, err := st.blob(ctx, f.manifest, f.layer)
	if err != nil {
		return fmt.Errorf("reading the bundle: %w", err)
	}
	var b bundle
	if err := json.Unmarshal(body, &b); err != nil || !strings.HasPrefix(b.MediaType, sigstoreBundle) {
		return fmt.Errorf("not a Sigstore bundle")
	}
	sig.MediaType = b.MediaType
	vm := b.VerificationMaterial
	var certDER []byte
	switch {
	case vm.PublicKey != nil:
		sig.Signer.Key = vm.PublicKey.Hint
	case vm.Certificate != nil:
		certDER = vm.Certificate.RawBytes
	case vm.X509CertificateChain != nil && len(vm.X509CertificateChain.Certificates) > 0:
		certDER = vm.X509CertificateChain.Certificates[0].RawBytes
	}
	if certDER != nil {
		if cert, err := x509.ParseCertificate(certDER); err == nil {
			sig.Signer = fulcioSigner(cert)
		}
	}
	env := b.DSSEEnvelope
	if env == nil {
		sig.Reason = "not verified: the bundle holds a message signature (of a blob), not a DSSE statement about an image"
		return nil
	}
	var stmt struct {
		Type    string `json:"_type"`
		Subject []struct {
			Digest map[string]string `json:"digest"`
		} `json:"subject"`
		PredicateType string `json:"predicateType"`
	}
	if err := json.Unmarshal(env.Payload, &stmt); err != nil {
		return fmt.Errorf("the envelope's payload is not an in-toto statement: %w", err)
	}
	signed := ""
	for _, s := range stmt.Subject {
		if h, ok := s.Digest["sha256"]; ok {
			signed = "sha256:" + h
			if signed == digest.String() {
				break
			}
		}
	}
	if stmt.PredicateType != cosignSignPredicate {
		sig.Reason = fmt.Sprintf("not verified: the statement's predicate is %s, an attestation, not cosign's signature (%s)", stmt.PredicateType, cosignSignPredicate)
		return nil
	}
	pae := dsse.PAE(env.PayloadType, env.Payload)
	c.verifyWith(sig, digest, signed, func(k Key) bool {
		if vm.PublicKey != nil && vm.PublicKey.Hint != "" && vm.PublicKey.Hint != k.hint {
			return false // the bundle names another key
		}
		for _, s := range env.Signatures {
			if k.verify(s.Sig, pae) {
				return true
			}
		}
		return false
	})
	return nil
}

// bundle is the part of a Sigstore bundle (protobuf-specs' Bundle, in its
// JSON form: camelCase names, bytes in base64) that is read here. It is
// written out rather than taken from protobuf-specs' generated types: those
// bring the protobuf runtime, whose reflection (MethodByName) turns off the
// linker's dead-code elimination: peel's binary was 33.5 MB with them,
// 21.8 MB without (20.0 MB before signatures).
type bundle struct {
	MediaType            string `json:"mediaType"`
	VerificationMaterial struct {
		PublicKey *struct {
			Hint string `json:"hint"`
		} `json:"publicKey"`
		Certificate *struct {
			RawBytes []byte `json:"rawBytes"`
		} `json:"certificate"`
		X509CertificateChain *struct {
			Certificates []struct {
				RawBytes []byte `json:"rawBytes"`
			} `json:"certificates"`
		} `json:"x509CertificateChain"`
	} `json:"verificationMaterial"`
	DSSEEnvelope *struct {
		Payload     []byte `json:"payload"`
		PayloadType string `json:"payloadType"`
		Signatures  []struct {
			Sig   []byte `json:"sig"`
			KeyID string `json:"keyid"`
		} `json:"signatures"`
	} `json:"dsseEnvelope"`
	MessageSignature json.RawMessage `json:"messageSignature"`
}

// verifyWith tries the checker's keys on a cosign signature, and says
// why it verifies or not: verifies(k) checks the signature with key k,
// signed is the image digest the signed payload names.
func (c *Checker) verifyWith(sig *scanner.Signature, digest v1.Hash, signed string, verifies func(Key) bool) {
	if len(c.opts.Keys) == 0 {
		sig.Reason = "not verified: no --verify-key given"
		if sig.Signer.Issuer != "" {
			sig.Reason = "not verified: signed keylessly with a Fulcio certificate; peel verifies with --verify-key keys, offline"
		}
		return
	}
	var names []string
	for _, k := range c.opts.Keys {
		names = append(names, k.label())
		if !verifies(k) {
			continue
		}
		if signed != digest.String() {
			sig.Reason = fmt.Sprintf("not verified: the signature verifies with %s but signs %s, not this image's %s (a signature copied from another image)", k.label(), signed, digest)
			return
		}
		if sig.Signer.Key == "" {
			sig.Signer.Key = k.ID
		}
		sig.Verified, sig.VerifiedBy = true, k.Name
		sig.Reason = fmt.Sprintf("verified with %s: signs %s", k.label(), short(signed))
		return
	}
	sig.Reason = "not verified: the signature does not verify with " + strings.Join(names, ", ")
}

// fulcioSigner is who a signing certificate names: a Fulcio certificate's
// email or URI and OIDC issuer, or else its X.509 subject and issuer.
func fulcioSigner(cert *x509.Certificate) scanner.Signer {
	s := scanner.Signer{}
	if sans := cryptoutils.GetSubjectAlternateNames(cert); len(sans) > 0 {
		s.Subject = sans[0]
	} else {
		s.Subject = cert.Subject.String()
	}
	if ext, err := certificate.ParseExtensions(cert.Extensions); err == nil && ext.Issuer != "" {
		s.Issuer = ext.Issuer
	} else {
		s.Issuer = cert.Issuer.String()
	}
	return s
}

// short abbreviates a digest for messages.
func short(d string) string {
	if i := strings.IndexByte(d, ':'); i >= 0 && len(d) > i+13 {
		if _, err := hex.DecodeString(d[i+1 : i+13]); err == nil {
			return d[:i+13] + "…"
		}
	}
	return d
}
