package rules

import (
	"context"
	"fmt"
	"path"
	"strings"

	"github.com/peelscan/peel/rules/keystore"
)

// Rules of the keystore verifier.
const (
	RuleKeystoreVerified   = "keystore-verified"
	RuleKeystorePrivateKey = "keystore-private-key"
)

var keystoreVerified = Rule{
	ID:          RuleKeystoreVerified,
	Title:       "Keystore with private keys opens with a known password",
	Description: "A Java keystore holding private keys is in the image, and a password found in the image (or a well-known default) opens it: anyone who pulls the image holds the keys.",
	Remediation: "Remove the keystore from the image and mount it at run time (docker run --mount); pass its password through the environment; revoke and reissue the keys.",
	Severity:    SeverityCritical,
	Kind:        KindKeystore,
	Specificity: SpecificityParsed,
}

var keystorePrivateKey = Rule{
	ID:          RuleKeystorePrivateKey,
	Title:       "Keystore with private keys",
	Description: "A Java keystore holding private keys is in the image. Its password was not found, but keystore passwords are often weak and can be guessed offline.",
	Remediation: "Remove the keystore from the image and mount it at run time (docker run --mount); consider the keys exposed and reissue them.",
	Severity:    SeverityMedium,
	Kind:        KindKeystore,
	Specificity: SpecificityParsed,
}

// defaultKeystoreWork bounds the bytes hashed verifying keystores in one
// scan.
const defaultKeystoreWork = 8 << 30

// keystoreVerifier proves keystores open: it keeps every JKS, JCEKS and
// PKCS#12 store a walk meets (by their magic bytes, whatever their names)
// and tries on each the passwords found anywhere in the scan, those whose
// settings name that keystore first, then keystore.DefaultPasswords. A
// store that opens is reported verified, and so are the passwords that
// open it, raised to critical; a store with private keys whose password
// was not found is reported unverified; a trust store is no finding.
type keystoreVerifier struct {
	work   int64 // bytes hashed per Verify call
	rounds int64 // PKCS#12 key-derivation rounds per Verify call
}

func newKeystoreVerifier(opts EngineOptions) Verifier {
	v := keystoreVerifier{work: opts.KeystoreWork, rounds: opts.KeyDerivationWork}
	if v.work <= 0 {
		v.work = defaultKeystoreWork
	}
	if v.rounds <= 0 {
		v.rounds = keystore.DefaultWork
	}
	return v
}

func (keystoreVerifier) Info() Info {
	// Keystores are binary: their examples are the verifier's tests.
	return Info{Name: "keystore", Version: 2, Rules: []Rule{keystoreVerified, keystorePrivateKey}}
}

func (keystoreVerifier) Wants(head []byte) bool { return keystore.Sniff(head) != keystore.None }

func (keystoreVerifier) Keep(size int64, read func(max int64) ([]byte, error)) ([]byte, error) {
	if size > keystore.MaxSize {
		return nil, fmt.Errorf("keystore of %d bytes is over the %d-byte limit", size, keystore.MaxSize)
	}
	data, err := read(keystore.MaxSize)
	if err != nil {
		return nil, fmt.Errorf("reading keystore: %w", err)
	}
	if _, err := keystore.Inspect(data); err != nil {
		return nil, err
	}
	return data, nil
}

func (v keystoreVerifier) Verify(ctx context.Context, findings []Located, kept []File) []Verification {
	var out []Verification
	// The passwords to try, once for all keystores; those whose config
	// names a keystore file are put first for that keystore.
	var (
		all    []keystore.Candidate
		naming []int // indexes into findings of passwords with keystore paths
	)
	for i := range findings {
		f := &findings[i]
		if !v.password(f.RuleID) {
			continue
		}
		all = append(all, keystore.Candidate{Password: f.Secret, Source: FormatLocation(f.Path, f.Line)})
		if len(f.Refers) > 0 {
			naming = append(naming, i)
		}
	}
	work := v.work
	rounds := keystore.NewWork(v.rounds)
	for fi, kf := range kept {
		if ctx.Err() != nil {
			return out
		}
		ks, err := keystore.Inspect(kf.Data)
		if err != nil || ks == nil {
			continue // Keep reported it
		}
		res := Verification{File: fi}
		if work > 0 {
			// Each try hashes the whole store: the scan's tries share a
			// budget of bytes, so that many large stores and many
			// passwords cannot stall it.
			cands := all
			var preferred []keystore.Candidate
			for _, i := range naming {
				if refersTo(findings[i].Refers, kf.Path) {
					preferred = append(preferred, keystore.Candidate{Password: findings[i].Secret, Source: FormatLocation(findings[i].Path, findings[i].Line)})
				}
			}
			if len(preferred) > 0 {
				cands = append(preferred, all...) // Open skips the repeats
			}
			tries := int(min(work/int64(max(len(kf.Data), 1)), 1<<20))
			if len(cands) > tries {
				res.Incomplete = append(res.Incomplete, Incomplete{
					Reason: fmt.Sprintf("%d of the passwords found were not tried on this keystore: the scan's keystore verification budget is used up", len(cands)-tries)})
				cands = cands[:tries]
			}
			work = max(0, work-int64(len(cands)+len(keystore.DefaultPasswords))*int64(len(kf.Data)))
			ks.Open(ctx, cands, rounds)
			if ctx.Err() != nil {
				return out
			}
		} else {
			res.Incomplete = append(res.Incomplete, Incomplete{Reason: "not verified: the scan's keystore verification budget is used up"})
		}
		switch {
		case ks.Untried > 0 && ks.ScanBudget:
			res.Incomplete = append(res.Incomplete, Incomplete{
				Reason: fmt.Sprintf("%d password(s) not tried: the scan's key-derivation budget (%d rounds over all keystores) is used up", ks.Untried, v.rounds)})
		case ks.Untried > 0:
			res.Incomplete = append(res.Incomplete, Incomplete{
				Reason: fmt.Sprintf("%d password(s) not tried: the keystore's key-derivation cost used up its work budget", ks.Untried)})
		}
		res.Type = ks.Type.String()
		if !ks.HoldsKeys() {
			reason := res.Type + " trust store: no private keys"
			if ks.Opened {
				reason += " (opens with the password from " + ks.Source + ")"
			}
			res.Dismissal = &Dismissal{RuleID: RuleKeystorePrivateKey, Reason: reason}
			out = append(out, res)
			continue
		}
		f := newFinding(RuleKeystorePrivateKey, 0, "", "")
		if ks.Opened {
			f = newFinding(RuleKeystoreVerified, 0, "", ks.Password)
			res.Opened, res.By = true, ks.Source
			for i := range findings {
				if v.password(findings[i].RuleID) && findings[i].Secret == ks.Password {
					res.Proves = append(res.Proves, i)
				}
			}
			res.Severity = SeverityCritical
		}
		res.Finding = &f
		res.Aliases = ks.PrivateKeyAliases()
		out = append(out, res)
	}
	return out
}

// password reports the findings whose secrets are tried as passwords.
func (keystoreVerifier) password(ruleID string) bool {
	r, ok := Lookup(ruleID)
	return ok && r.Kind == KindPassword
}

// refersTo reports whether one of a config file's keystore paths names the
// keystore at chain: an absolute path names the file in the layer; a
// relative or classpath: one names a member or file ending with it.
func refersTo(refs []string, chain []string) bool {
	for _, r := range refs {
		r = strings.TrimPrefix(strings.TrimPrefix(r, "file:"), "classpath:")
		if r == "" {
			continue
		}
		if strings.HasPrefix(r, "/") {
			if len(chain) == 1 && chain[0] == path.Clean(r) {
				return true
			}
			continue
		}
		last := "/" + chain[len(chain)-1]
		if strings.HasSuffix(last, "/"+strings.TrimPrefix(path.Clean(r), "./")) {
			return true
		}
	}
	return false
}

// Wants tells from a file's first bytes whether one of the engine's
// verifiers needs the whole file (then Keep reads it).
func (e *Engine) Wants(head []byte) bool {
	for _, v := range e.verifiers {
		if v.Wants(head) {
			return true
		}
	}
	return false
}

// Keep hands a file that Wants chose, by its first bytes, to the verifier
// that wants it, which reads it through read and checks it; an error says
// why it cannot be kept (too large, unreadable, malformed).
func (e *Engine) Keep(head []byte, size int64, read func(max int64) ([]byte, error)) ([]byte, error) {
	for _, v := range e.verifiers {
		if v.Wants(head) {
			return v.Keep(size, read)
		}
	}
	return nil, fmt.Errorf("no verifier wants this file")
}

// Verify runs the engine's verifiers over the files they kept and the
// findings of a whole scan, and returns what they proved. It changes
// neither. A kept file that is a third-party dependency's test resource
// (a .p12 under a package's tests/) is dismissed as such, proving
// nothing, unless opts asks for those.
func (e *Engine) Verify(ctx context.Context, findings []Located, kept []File, opts ScanOptions) []Verification {
	var out []Verification
	for _, v := range e.verifiers {
		var mine []File
		var index []int
		for i, f := range kept {
			if v.Wants(f.Data) {
				mine, index = append(mine, f), append(index, i)
			}
		}
		for _, r := range v.Verify(ctx, findings, mine) {
			r.File = index[r.File]
			if r.Finding != nil && !opts.IncludeDependencyTests {
				if why := dependencyTest(kept[r.File].Path); why != "" {
					r.Dismissal = &Dismissal{RuleID: r.Finding.RuleID, Reason: why}
					r.Finding, r.Proves, r.Opened, r.By = nil, nil, false, ""
				}
			}
			out = append(out, r)
		}
	}
	return out
}
