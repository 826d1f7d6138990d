package report

import (
	"fmt"
	"strings"

	"github.com/peelscan/peel/scanner"
)

// Signatures is what was found of an image's signatures (images read
// from a registry or an OCI layout); its JSON is images[].signatures.
type Signatures struct {
	// Status is "verified" (a signature verifies), "signed" (signatures,
	// none verified), "unsigned" or "unknown" (they could not be looked
	// up: Error says why).
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`
	// LookedAt lists where signatures were looked for; Requests counts
	// the registry requests that took.
	LookedAt []string    `json:"looked_at"`
	Requests int         `json:"requests,omitempty"`
	Found    []Signature `json:"found"`
}

// Signature is one signature of an image.
type Signature struct {
	Kind       string  `json:"kind"` // cosign, cosign-bundle or notation
	Digest     string  `json:"digest"`
	FoundBy    string  `json:"found_by"`
	Signs      string  `json:"signs"`
	MediaType  string  `json:"media_type,omitempty"`
	Signer     *Signer `json:"signer,omitempty"`
	Verified   bool    `json:"verified"`
	VerifiedBy string  `json:"verified_by,omitempty"`
	Reason     string  `json:"reason"`
}

// Signer is who signed, as far as the signature says.
type Signer struct {
	Subject string `json:"subject,omitempty"`
	Issuer  string `json:"issuer,omitempty"`
	Key     string `json:"key,omitempty"`
}

// signaturesOf is the report's form of a scan's signatures; strings from
// the registry pass the redactor like everything from the image.
func signaturesOf(s *scanner.Signatures, red *redactor) *Signatures {
	if s == nil {
		return nil
	}
	out := &Signatures{Status: s.Status(), Error: red.s(s.Error), LookedAt: append([]string{}, s.Where...), Requests: s.Requests, Found: []Signature{}}
	for _, sig := range s.Found {
		o := Signature{Kind: sig.Kind, Digest: sig.Digest, FoundBy: sig.FoundBy, Signs: sig.Signs, MediaType: red.s(sig.MediaType),
			Verified: sig.Verified, VerifiedBy: red.s(sig.VerifiedBy), Reason: red.s(sig.Reason)}
		if sig.Signer != (scanner.Signer{}) {
			o.Signer = &Signer{Subject: red.s(sig.Signer.Subject), Issuer: red.s(sig.Signer.Issuer), Key: red.s(sig.Signer.Key)}
		}
		out.Found = append(out.Found, o)
	}
	return out
}

// signatureLines are the table's lines about an image's signatures: the
// status, then one line per signature found.
func signatureLines(s *Signatures) []string {
	if s == nil {
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "signatures: %s", s.Status)
	if len(s.Found) > 0 {
		fmt.Fprintf(&b, ", %d found", len(s.Found))
	}
	if len(s.LookedAt) > 0 {
		fmt.Fprintf(&b, " (looked at %s)", Printable(abbrev(strings.Join(s.LookedAt, ", "))))
	}
	if s.Error != "" {
		fmt.Fprintf(&b, ": %s", Printable(s.Error))
	}
	lines := []string{b.String()}
	for _, sig := range s.Found {
		line := fmt.Sprintf("  %s %s (%s)", Printable(sig.Kind), abbrev(sig.Digest), Printable(abbrev(sig.FoundBy)))
		if sig.Signer != nil {
			line += fmt.Sprintf(", signer %s", Printable(abbrev(signerText(sig.Signer))))
		}
		lines = append(lines, line+": "+Printable(abbrev(sig.Reason)))
	}
	return lines
}

// abbrev shortens the digests in s, as the table's layer column does.
func abbrev(s string) string {
	return longHex.ReplaceAllStringFunc(s, func(h string) string { return h[:12] + "…" })
}

func signerText(s *Signer) string {
	var parts []string
	if s.Subject != "" {
		parts = append(parts, s.Subject)
	}
	if s.Issuer != "" {
		parts = append(parts, "issued by "+s.Issuer)
	}
	if s.Key != "" {
		parts = append(parts, "key "+s.Key)
	}
	return strings.Join(parts, ", ")
}

// sarifSignatures is the SARIF run's "signatures" property: per image
// whose signatures were looked up, its input, status and signatures.
func sarifSignatures(r *Report) []map[string]any {
	var out []map[string]any
	for _, img := range r.Images {
		if img.Signatures == nil {
			continue
		}
		e := map[string]any{"image": img.Input, "status": img.Signatures.Status, "signatures": img.Signatures.Found}
		if img.Digest != "" {
			e["digest"] = img.Digest
		}
		if img.Signatures.Error != "" {
			e["error"] = img.Signatures.Error
		}
		out = append(out, e)
	}
	return out
}
