package signature

import (
	"bytes"
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
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature/payload"
	"google.golang.org/protobuf/encoding/protojson"

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
		return k.v.VerifySignature(bytes.NewReader(raw), bytes.NewReader(body)) == nil
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
	var b protobundle.Bundle
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(body, &b); err != nil {
		return fmt.Errorf("not a Sigstore bundle: %w", err)
	}
	if b.MediaType != "" {
		sig.MediaType = b.MediaType
	}
	vm := b.GetVerificationMaterial()
	switch {
	case vm.GetPublicKey() != nil:
		sig.Signer.Key = vm.GetPublicKey().GetHint()
	case vm.GetCertificate() != nil:
		if cert, err := x509.ParseCertificate(vm.GetCertificate().GetRawBytes()); err == nil {
			sig.Signer = fulcioSigner(cert)
		}
	case len(vm.GetX509CertificateChain().GetCertificates()) > 0:
		if cert, err := x509.ParseCertificate(vm.GetX509CertificateChain().GetCertificates()[0].GetRawBytes()); err == nil {
			sig.Signer = fulcioSigner(cert)
		}
	}
	env := b.GetDsseEnvelope()
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
	if err := json.Unmarshal(env.GetPayload(), &stmt); err != nil {
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
	pae := dsse.PAE(env.GetPayloadType(), env.GetPayload())
	c.verifyWith(sig, digest, signed, func(k Key) bool {
		if h := vm.GetPublicKey().GetHint(); h != "" && h != k.hint {
			return false // the bundle names another key
		}
		for _, s := range env.GetSignatures() {
			if k.v.VerifySignature(bytes.NewReader(s.GetSig()), bytes.NewReader(pae)) == nil {
				return true
			}
		}
		return false
	})
	return nil
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
