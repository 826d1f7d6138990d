package rules

// RuleUnsignedImage is the rule of an image without a signature that
// verifies, when signatures are required.
const RuleUnsignedImage = "unsigned-image"

var unsignedImage = Rule{
	ID:    RuleUnsignedImage,
	Title: "Image without a verified signature",
	Description: "Signatures are required (--require-signature) and no signature of the image verifies with the keys or " +
		"trust policy given: nothing shows the image is the one its publisher built. A signature proves who " +
		"published the image, never that it holds no secrets.",
	Remediation: "Sign the image by its digest (cosign sign --key, notation sign) with a key the verifiers trust, and verify with " +
		"--verify-key or --notation-config; keep the signing key and its passphrase out of every image.",
	Severity:    SeverityHigh,
	Kind:        KindSignature,
	Specificity: SpecificityParsed,
}

// SignatureStatus is what is known of an image's signatures when they are
// required: whether they could be looked up (Reason says why not), how
// many were found and how many verify.
type SignatureStatus struct {
	Looked   bool   `json:"looked"`
	Found    int    `json:"found"`
	Verified int    `json:"verified"`
	Reason   string `json:"reason,omitempty"`
}

// Keys of the unsigned-image finding: what the image lacks.
const (
	keyUnsigned      = "unsigned"
	keyUnverified    = "no signature verifies"
	keyNotLookedUp   = "signatures not looked up"
	signatureSubject = "the image's signatures"
)

// signatureReader is a detector that judges an image's signatures.
type signatureReader interface {
	DetectSignatures(st SignatureStatus, c *Collector)
}

// signatureGate judges an image's signature status when signatures are
// required: none found, none that verifies, or a lookup that could not be
// made is a finding. It reads no files.
type signatureGate struct{}

func (signatureGate) Info() Info {
	sig := func(text string, want ...Want) Example {
		return Example{Source: SourceSignatures, Text: text, Want: want}
	}
	return Info{Name: "signature", Version: 1, Rules: []Rule{
		unsignedImage.with(
			sig(`{"looked": true, "found": 0, "verified": 0}`, at(0, keyUnsigned, "")),
			sig(`{"looked": true, "found": 2, "verified": 0}`, at(0, keyUnverified, "")),
			sig(`{"looked": false, "reason": "a docker-archive input carries no signatures"}`, at(0, keyNotLookedUp, "")),
			sig(`{"looked": true, "found": 1, "verified": 1}`),
			sig(`{"looked": true, "found": 3, "verified": 1}`),
		),
	}}
}

func (signatureGate) Applies([]string) bool { return false }

func (signatureGate) Detect(*File, *Collector) {}

func (signatureGate) DetectSignatures(st SignatureStatus, c *Collector) {
	switch {
	case !st.Looked:
		c.Add(newFinding(RuleUnsignedImage, 0, keyNotLookedUp, ""))
	case st.Found == 0:
		c.Add(newFinding(RuleUnsignedImage, 0, keyUnsigned, ""))
	case st.Verified == 0:
		c.Add(newFinding(RuleUnsignedImage, 0, keyUnverified, ""))
	default:
		c.Dismiss(RuleUnsignedImage, 0, signatureSubject, "a signature verifies")
	}
}

// JudgeSignatures says whether an image's signature status is a finding
// when signatures are required (unsigned-image): no signature, none that
// verifies, or signatures that could not be looked up.
func (e *Engine) JudgeSignatures(st SignatureStatus) Result {
	var c Collector
	for _, d := range e.detectors {
		if r, ok := d.(signatureReader); ok {
			r.DetectSignatures(st, &c)
		}
	}
	return c.finish()
}
