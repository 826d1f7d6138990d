package rules

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"

	"github.com/secure-systems-lab/go-securesystemslib/encrypted"

	"github.com/peelscan/peel/rules/internal/textscan"
)

// maxCosignKeyFile bounds a cosign key file kept for verification: cosign
// writes a few hundred bytes.
const maxCosignKeyFile = 64 << 10

// defaultPassphraseTries bounds the passphrases tried on the cosign keys of
// one scan: each try is one scrypt derivation (N=2^15 to 2^17, r=8: 32 to
// 128 MiB of memory and tens of milliseconds).
const defaultPassphraseTries = 128

// emptyPassphrase names the empty passphrase as the source that opened a
// key: COSIGN_PASSWORD= cosign generate-key-pair encrypts under it.
const emptyPassphrase = "the empty passphrase"

// signingKeyVerifier proves cosign keys open, as the keystore verifier
// proves keystores do: it keeps every file that starts with a cosign
// private key and tries on each key the passwords found anywhere in the
// scan (signing passphrases first) and the empty passphrase. A key that
// opens is reported verified and critical, and so are the passphrases that
// open it. Keys inside other text are reported by the signingkeys detector,
// unverified.
type signingKeyVerifier struct {
	tries int
}

func newSigningKeyVerifier(EngineOptions) Verifier {
	return signingKeyVerifier{tries: defaultPassphraseTries}
}

func (signingKeyVerifier) Info() Info {
	// The rule, with its examples, is the signingkeys detector's; the
	// verifier's tests are in signingkeyverifier_test.go.
	return Info{Name: "signingkey-verifier", Version: 1}
}

// Wants takes a file that starts with a cosign private key.
func (signingKeyVerifier) Wants(head []byte) bool {
	head = bytes.TrimLeft(head, " \t\r\n")
	return bytes.HasPrefix(head, []byte("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----")) ||
		bytes.HasPrefix(head, []byte("-----BEGIN ENCRYPTED COSIGN PRIVATE KEY-----"))
}

func (signingKeyVerifier) Keep(size int64, read func(max int64) ([]byte, error)) ([]byte, error) {
	if size > maxCosignKeyFile {
		return nil, fmt.Errorf("cosign key file of %d bytes is over the %d-byte limit", size, maxCosignKeyFile)
	}
	data, err := read(maxCosignKeyFile)
	if err != nil {
		return nil, fmt.Errorf("reading cosign key: %w", err)
	}
	return data, nil
}

// cosignBlock is one cosign key of a kept file.
type cosignBlock struct {
	line int
	typ  string
	body []byte
}

func cosignBlocks(data []byte) []cosignBlock {
	var out []cosignBlock
	lines := textscan.NewLines(data)
	rest, base := data, 0
	for {
		m := pemBegin.FindSubmatchIndex(rest)
		if m == nil {
			return out
		}
		block, after := pem.Decode(rest[m[0]:])
		if block == nil {
			base += m[1]
			rest = rest[m[1]:]
			continue
		}
		if cosignPEMTypes[block.Type] {
			out = append(out, cosignBlock{line: lines.Line(base + m[0]), typ: block.Type, body: block.Bytes})
		}
		base += m[0] + len(rest[m[0]:]) - len(after)
		rest = after
	}
}

func (v signingKeyVerifier) Verify(ctx context.Context, findings []Located, kept []File) []Verification {
	type candidate struct{ password, source string }
	// Signing passphrases first, then every other password, then the
	// empty passphrase; each once.
	var cands []candidate
	seen := map[string]bool{}
	for pass := 0; pass < 2; pass++ {
		for i := range findings {
			f := &findings[i]
			r, ok := Lookup(f.RuleID)
			if !ok || r.Kind != KindPassword || (f.RuleID == RuleSigningPassphrase) != (pass == 0) || seen[f.Secret] {
				continue
			}
			seen[f.Secret] = true
			cands = append(cands, candidate{f.Secret, FormatLocation(f.Path, f.Line)})
		}
	}
	if !seen[""] {
		cands = append(cands, candidate{"", emptyPassphrase})
	}
	left := v.tries
	var out []Verification
	for fi, kf := range kept {
		for _, b := range cosignBlocks(kf.Data) {
			res := Verification{File: fi}
			params, err := cosignKDF(b.body)
			if err != nil && !errors.Is(err, errKDFParams) {
				res.Incomplete = append(res.Incomplete, Incomplete{Line: b.line, Reason: err.Error()})
				out = append(out, res)
				continue
			}
			f := newFinding(RuleCosignKey, b.line, b.typ, base64.StdEncoding.EncodeToString(b.body))
			res.Finding = &f
			if err != nil {
				res.Incomplete = append(res.Incomplete, Incomplete{Line: b.line, Reason: "cosign key not tried (" + params + "): " + err.Error()})
				out = append(out, res)
				continue
			}
			tried := 0
			for _, c := range cands {
				if ctx.Err() != nil || left == 0 {
					break
				}
				left--
				tried++
				if _, err := encrypted.Decrypt(b.body, []byte(c.password)); err != nil {
					continue
				}
				res.Opened, res.By = true, c.source
				res.Severity = SeverityCritical
				f.Severity = SeverityCritical
				for i := range findings {
					r, ok := Lookup(findings[i].RuleID)
					if ok && r.Kind == KindPassword && findings[i].Secret == c.password && c.source != emptyPassphrase {
						res.Proves = append(res.Proves, i)
					}
				}
				break
			}
			if !res.Opened && tried < len(cands) {
				res.Incomplete = append(res.Incomplete, Incomplete{Line: b.line,
					Reason: fmt.Sprintf("%d of the passwords found were not tried on this cosign key: the scan's budget of %d scrypt derivations is used up", len(cands)-tried, v.tries)})
			}
			out = append(out, res)
		}
	}
	return out
}
