package rules

import (
	"bytes"

	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/peelscan/peel/rules/internal/textscan"
)

// Rules of the signing key detector.
const (
	RuleCosignKey         = "cosign-key"
	RuleNotationKey       = "notation-key"
	RuleSigningPassphrase = "signing-passphrase"
)

var cosignKey = Rule{
	ID:    RuleCosignKey,
	Title: "cosign signing key",
	Description: "A cosign private key (cosign generate-key-pair writes it as cosign.key, PEM ENCRYPTED SIGSTORE PRIVATE KEY) is in the image. " +
		"It is encrypted with a passphrase, but whoever guesses or finds the passphrase signs images that every " +
		"verifier trusting the key accepts; with the passphrase found in the same image, it is verified.",
	Remediation: "Remove the key from the image (and every earlier layer); keep it in a KMS or a CI secret store; generate a new key pair, " +
		"re-sign the images and replace the public key wherever verification trusts it.",
	Severity:    SeverityHigh,
	Kind:        KindPrivateKey,
	Specificity: SpecificityParsed,
}

var notationKey = Rule{
	ID:    RuleNotationKey,
	Title: "Notation signing key",
	Description: "A Notation (Notary Project) signing key is in the image: Notation keeps local keys unencrypted " +
		"(~/.config/notation/localkeys), so whoever pulls the image signs as its certificate's subject.",
	Remediation: "Remove the key from the image; sign through a KMS plugin instead of local keys; revoke the certificate and " +
		"remove it from every trust store that holds it.",
	Severity:    SeverityCritical,
	Kind:        KindPrivateKey,
	Specificity: SpecificityParsed,
}

var signingPassphrase = Rule{
	ID:    RuleSigningPassphrase,
	Title: "Signing key passphrase",
	Description: "The passphrase of a signing key (COSIGN_PASSWORD, DOCKER_CONTENT_TRUST_ROOT_PASSPHRASE, " +
		"DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE) is in the image: with the key it lets anyone sign as the " +
		"publisher; critical when it opens a key in the same image.",
	Remediation: "Pass the passphrase from the CI's secret store at signing time, never into an image (ENV, ARG, config files); " +
		"rotate it and the key it protects.",
	Severity:    SeverityHigh,
	Kind:        KindPassword,
	Specificity: SpecificityIssuer,
}

// passphraseVars are the environment variables signing tools read a key's
// passphrase from: cosign's, and the Docker CLI's for content trust
// (OFFLINE and TAGGING are the older names of ROOT and REPOSITORY).
var passphraseVars = map[string]bool{
	"COSIGN_PASSWORD":                            true,
	"DOCKER_CONTENT_TRUST_ROOT_PASSPHRASE":       true,
	"DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE": true,
	"DOCKER_CONTENT_TRUST_OFFLINE_PASSPHRASE":    true,
	"DOCKER_CONTENT_TRUST_TAGGING_PASSPHRASE":    true,
}

// cosignPEMTypes are the PEM types of cosign's private keys: cosign 2 and
// later write SIGSTORE, earlier releases COSIGN.
var cosignPEMTypes = map[string]bool{"ENCRYPTED SIGSTORE PRIVATE KEY": true, "ENCRYPTED COSIGN PRIVATE KEY": true}

// signingKeys finds the keys that sign images and their passphrases:
// cosign keys (by their PEM type anywhere, or any private key in a file
// named cosign.key), Notation's local keys (a private key under
// notation/localkeys/), and passphrases set for cosign or Docker Content
// Trust in files, the image config and build steps. A cosign key file the
// signing key verifier keeps is read there instead, where the passphrases
// found in the whole image are tried on it.
type signingKeys struct{}

func (signingKeys) Info() Info {
	ck := []byte(exampleCosignKeyPEM)
	plain := examplePEM("cosign")
	notation := examplePEM("notation")
	return Info{Name: "signingkeys", Version: 1, Rules: []Rule{
		cosignKey.with(
			file("/ci/setup.sh", "#!/bin/sh\ncat > /tmp/k <<EOF\n"+string(ck)+"EOF\n", at(3, "ENCRYPTED SIGSTORE PRIVATE KEY", pemBase64(ck))),
			file("/root/cosign.key", string(plain), Want{Line: 1, Key: "PRIVATE KEY", Secret: pemBase64(plain), Severity: SeverityCritical}),
			file("/root/cosign.pub", "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----\n"),
			// Not a cosign key's JSON: the private key detector still
			// reports an encrypted key.
			file("/app/notes.txt", "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\nbm90IGpzb24=\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n",
				at(1, "ENCRYPTED SIGSTORE PRIVATE KEY", "bm90IGpzb24=").of(RulePrivateKeyEncrypted)),
		),
		notationKey.with(
			file("/root/.config/notation/localkeys/peel.key", string(notation), at(1, "PRIVATE KEY", pemBase64(notation))),
			file("/root/.config/notation/localkeys/peel.crt", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"),
			file("/root/.config/notation/signingkeys.json", `{"default": "peel", "keys": [{"name": "peel", "keyPath": "/root/.config/notation/localkeys/peel.key"}]}`),
		),
		signingPassphrase.with(
			env("COSIGN_PASSWORD=cosign-example-pass", at(0, "COSIGN_PASSWORD", "cosign-example-pass")),
			env("DOCKER_CONTENT_TRUST_ROOT_PASSPHRASE=dct-root-example", at(0, "DOCKER_CONTENT_TRUST_ROOT_PASSPHRASE", "dct-root-example")),
			file("/app/.env", "DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE=dct-repo-example\n", at(1, "DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE", "dct-repo-example")),
			file("/ci/sign.sh", "#!/bin/sh\nexport COSIGN_PASSWORD='sh-example-pass'\ncosign sign --key cosign.key \"$IMAGE\"\n", at(2, "COSIGN_PASSWORD", "sh-example-pass")),
			file("/ci/config.json", `{"COSIGN_PASSWORD": "json-example-pass"}`, at(1, "COSIGN_PASSWORD", "json-example-pass")),
			command("|1 COSIGN_PASSWORD=arg-example-pass /bin/sh -c cosign sign --key /k/cosign.key app", at(1, "COSIGN_PASSWORD", "arg-example-pass")),
			env("COSIGN_PASSWORD="),
			env("COSIGN_PASSWORD=${COSIGN_PASSWORD}"),
			file("/ci/sign.sh", "#!/bin/sh\nexport COSIGN_PASSWORD=\"$SIGNING_PASS\"\n"),
			file("/.github/workflows/sign.yml", "env:\n  COSIGN_PASSWORD: ${{ secrets.COSIGN_PASSWORD }}\n"),
			file("/usr/share/doc/cosign/README.md", "Set COSIGN_PASSWORD to the key's passphrase.\n"),
		),
	}}
}

// exampleCosignKeyPEM is the catalogue's example cosign key: what
// exampleCosignKey("example", "example-passphrase") makes (a test checks
// it), kept as a constant because making it costs a cosign scrypt
// derivation (32 MiB, a fifth of a second) that every peel would
// otherwise pay at start to build the catalogue.
const exampleCosignKeyPEM = "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\neyJjaXBoZXIiOnsibmFtZSI6Im5hY2wvc2VjcmV0Ym94Iiwibm9uY2UiOiJEbEl0\naExHM1c5WWF6ZWN4bkFsTC91aWRZOEE4Z2dCKyJ9LCJjaXBoZXJ0ZXh0IjoiNnlr\nZGlGVUtHT1UzVCt1blNWQktWWUl3clpyelJ4S01ZYktTdjlPcjZrTytOWGN3TVI5\nYnVrS3ordWZTTEJaTS9xUnR1RUo0YXZySHozMWl0V0Exc0E9PSIsImtkZiI6eyJu\nYW1lIjoic2NyeXB0IiwicGFyYW1zIjp7Ik4iOjMyNzY4LCJwIjoxLCJyIjo4fSwi\nc2FsdCI6ImdZeDQ1RjV0cFdHZTEzYXNBenE1ZmNyK1RMbnB1alhLZVlmVTFJVUVk\nalE9In19\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n"

func (signingKeys) Applies([]string) bool { return true }

func (signingKeys) Detect(f *File, c *Collector) {
	name := f.Name()
	base := path.Base(name)
	byName := strings.EqualFold(base, "cosign.key")
	notation := strings.Contains(name, "notation/localkeys/")
	if byName || notation || bytes.Contains(f.Data, []byte("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----")) ||
		bytes.Contains(f.Data, []byte("-----BEGIN ENCRYPTED COSIGN PRIVATE KEY-----")) {
		scanSigningKeys(f.Data, byName, notation, c)
	}
	if bytes.Contains(f.Data, []byte("_PASS")) {
		scanPassphrases(f.Data, c)
	}
}

func (signingKeys) DetectAssignment(key, value string, c *Collector) {
	if passphraseVars[key] {
		passphraseFinding(key, value, 0, c)
	}
}

func (signingKeys) DetectCommand(cmd Command, c *Collector) {
	if strings.Contains(cmd.Line, "_PASS") {
		scanPassphrases([]byte(cmd.Line), c)
	}
}

// scanSigningKeys reports the PEM private keys of data that sign images: a
// cosign key by its type, or any key in a cosign.key file (byName) or a
// Notation key directory (notation).
func scanSigningKeys(data []byte, byName, notation bool, c *Collector) {
	lines := textscan.NewLines(data)
	rest := data
	base := 0
	for {
		m := pemBegin.FindSubmatchIndex(rest)
		if m == nil {
			return
		}
		off := base + m[0]
		typ := string(rest[m[2]:m[3]])
		block, after := pem.Decode(rest[m[0]:])
		if block == nil {
			base += m[1]
			rest = rest[m[1]:]
			continue
		}
		line := lines.Line(off)
		switch {
		case cosignPEMTypes[typ]:
			if _, err := cosignKDF(block.Bytes); err != nil && !errors.Is(err, errKDFParams) {
				c.Dismiss(RuleCosignKey, line, typ, err.Error())
				break
			}
			c.Add(newFinding(RuleCosignKey, line, typ, base64.StdEncoding.EncodeToString(block.Bytes)))
		case byName || notation:
			encrypted := strings.HasPrefix(typ, "ENCRYPTED") || strings.Contains(block.Headers["Proc-Type"], "ENCRYPTED")
			if !encrypted && !parsesAsKey(block.Bytes) {
				break // the private key detector says why
			}
			id := RuleNotationKey
			if byName {
				id = RuleCosignKey
			}
			f := newFinding(id, line, typ, base64.StdEncoding.EncodeToString(block.Bytes))
			if encrypted {
				f.Severity = SeverityHigh
			} else {
				f.Severity = SeverityCritical
			}
			c.Add(f)
		}
		base += m[0] + len(rest[m[0]:]) - len(after)
		rest = after
	}
}

// cosignKDF reads the scrypt parameters of a cosign key's PEM body (the
// JSON go-securesystemslib writes), checking its structure.
func cosignKDF(body []byte) (string, error) {
	var k struct {
		KDF struct {
			Name   string `json:"name"`
			Params struct {
				N, R, P int
			} `json:"params"`
		} `json:"kdf"`
		Cipher struct {
			Name string `json:"name"`
		} `json:"cipher"`
		Ciphertext []byte `json:"ciphertext"`
	}
	if err := json.Unmarshal(body, &k); err != nil || k.KDF.Name == "" || len(k.Ciphertext) == 0 {
		return "", fmt.Errorf("not a cosign key structure (truncated or an example)")
	}
	params := fmt.Sprintf("%s N=%d r=%d p=%d", k.KDF.Name, k.KDF.Params.N, k.KDF.Params.R, k.KDF.Params.P)
	switch p := k.KDF.Params; {
	case k.KDF.Name != "scrypt" || k.Cipher.Name != "nacl/secretbox",
		p.R != 8 || p.P != 1 || p.N != 1<<15 && p.N != 1<<16 && p.N != 1<<17:
		// go-securesystemslib refuses other parameters too: they could
		// cost any amount of work.
		return params, errKDFParams
	}
	return params, nil
}

// errKDFParams is a cosign key whose key derivation is not one cosign
// writes.
var errKDFParams = errors.New("its key derivation is not one cosign writes (scrypt N=2^15, 2^16 or 2^17, r=8, p=1, then nacl/secretbox)")

// scanPassphrases finds assignments of the passphrase variables in text:
// NAME=value, NAME: value, "NAME": "value", export NAME=value, as shell,
// .env, YAML, JSON and build arguments write them.
func scanPassphrases(data []byte, c *Collector) {
	var lines textscan.Lines
	for i := 0; ; {
		j := bytes.Index(data[i:], []byte("_PASS"))
		if j < 0 {
			return
		}
		at := i + j
		start := at
		for start > 0 && isVarByte(data[start-1]) {
			start--
		}
		end := at
		for end < len(data) && isVarByte(data[end]) {
			end++
		}
		i = end
		name := string(data[start:end])
		if !passphraseVars[name] {
			continue
		}
		value, ok := assignedValue(data[end:])
		if !ok {
			continue
		}
		if lines == nil {
			lines = textscan.NewLines(data)
		}
		passphraseFinding(name, value, lines.Line(start), c)
	}
}

func isVarByte(b byte) bool {
	return 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || b == '_' || 'a' <= b && b <= 'z'
}

// assignedValue reads what follows a variable's name on its line when it
// is assigned: an optional closing quote, then = or :, then a quoted or
// bare value.
func assignedValue(rest []byte) (string, bool) {
	if nl := bytes.IndexByte(rest, '\n'); nl >= 0 {
		rest = rest[:nl]
	}
	rest = bytes.TrimLeft(rest, `"'`)
	rest = bytes.TrimLeft(rest, " \t")
	if len(rest) == 0 || rest[0] != '=' && rest[0] != ':' {
		return "", false
	}
	rest = bytes.TrimLeft(rest[1:], " \t")
	if len(rest) > 0 && (rest[0] == '"' || rest[0] == '\'') {
		if k := bytes.IndexByte(rest[1:], rest[0]); k >= 0 {
			return string(rest[:k+2]), true
		}
		return "", false
	}
	end := bytes.IndexAny(rest, " \t;,}#")
	if end < 0 {
		end = len(rest)
	}
	return string(rest[:end]), true
}

// passphraseFinding judges one passphrase assignment: a literal value is a
// finding; a placeholder, a shell variable or an empty value is dismissed.
func passphraseFinding(name, value string, line int, c *Collector) {
	v := strings.Trim(strings.TrimSpace(value), `"'`)
	if strings.HasPrefix(v, "$") && !strings.HasPrefix(v, "${") {
		c.Dismiss(RuleSigningPassphrase, line, name, "shell variable")
		return
	}
	secret, _, ok, reason := ClassifyValue(value)
	if !ok {
		c.Dismiss(RuleSigningPassphrase, line, name, reason)
		return
	}
	c.Add(newFinding(RuleSigningPassphrase, line, name, secret))
}
