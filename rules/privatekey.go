package rules

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/binary"
	"encoding/pem"
	"regexp"
	"strings"

	"github.com/peelscan/peel/rules/internal/textscan"
)

// Rules of the private key detector.
const (
	RulePrivateKey          = "private-key"
	RulePrivateKeyEncrypted = "private-key-encrypted"
	RuleContentTrustKey     = "content-trust-key"
)

var privateKey = Rule{
	ID:          RulePrivateKey,
	Title:       "Unencrypted private key",
	Description: "A private key (PEM, OpenSSH, PuTTY or PGP) that needs no passphrase is in the image: whoever pulls the image holds the key.",
	Remediation: "Remove the key from the image and mount it at run time; revoke the key and issue a new one.",
	Severity:    SeverityCritical,
	Kind:        KindPrivateKey,
	Specificity: SpecificityParsed,
}

// privateKeys finds private keys in any text.
type privateKeys struct{}

func (privateKeys) Info() Info {
	pkcs8 := examplePEM("pem")
	ecPEM := func() []byte {
		d := sha256.Sum256([]byte("peel example ec key"))
		k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), d[:])
		if err != nil {
			panic(err) // a fixed scalar below the order: cannot fail
		}
		der, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			panic(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})
	}()
	legacy := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-128-CBC,00112233445566778899AABBCCDDEEFF"}, Bytes: []byte(strings.Repeat("x", 300))})
	encPKCS8 := pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte(strings.Repeat("y", 300))})
	dct := pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Headers: map[string]string{"role": "root"}, Bytes: []byte(strings.Repeat("z", 300))})
	plainDCT := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Headers: map[string]string{"role": "targets"}, Bytes: exampleKey("pem")})
	ossh := func(cipher string) []byte {
		body := append([]byte("openssh-key-v1\x00"), 0, 0, 0, byte(len(cipher)))
		body = append(body, cipher...)
		body = append(body, make([]byte, 200)...)
		return pem.EncodeToMemory(&pem.Block{Type: "OPENSSH PRIVATE KEY", Bytes: body})
	}
	putty := "PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nComment: x\n"
	truncated := "-----BEGIN RSA PRIVATE KEY-----\nMIIEow...\n-----END RSA PRIVATE KEY-----\n"
	public := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte("abc")}))
	b64 := func(b []byte) string { return pemBase64(b) }
	return Info{Name: "privatekey", Version: 2, Rules: []Rule{
		privateKey.with(
			file("/etc/ssl/private/app.key", "# tls key\n"+string(pkcs8), at(2, "PRIVATE KEY", b64(pkcs8))),
			file("/app/ec.pem", string(ecPEM), at(1, "EC PRIVATE KEY", b64(ecPEM))),
			file("/root/.ssh/id_ed25519", string(ossh("none")), at(1, "OPENSSH PRIVATE KEY", b64(ossh("none")))),
			file("/home/u/key.ppk", putty, at(1, "PuTTY key", base64.StdEncoding.EncodeToString([]byte(putty)))),
			file("/usr/share/doc/x/example.txt", truncated),
			file("/app/pub.pem", public),
			file("/app/notes.conf", "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5IGF0IGFsbA==\n-----END PRIVATE KEY-----\n"),
			// Test keys of third-party code, in every ecosystem: reported only
			// under --include-dependency-tests.
			file("/app/node_modules/ssh2/test/fixtures/ssh_host_rsa_key", string(pkcs8)),
			file("/usr/lib/python3/dist-packages/tornado/test/test.key", string(pkcs8)),
			file("/usr/lib/python3.11/test/keycert.pem", string(pkcs8)),
			file("/usr/share/go-1.19/src/crypto/tls/testdata/example-key.pem", string(pkcs8)),
			file("/usr/local/bundle/gems/net-ssh-7.0.1/test/fixtures/key.pem", string(pkcs8)),
			file("/app.jar!BOOT-INF/lib/acme-1.0.jar!certs/test/server.key", string(pkcs8)),
			// The same key in the application's own tree is reported.
			file("/app/test/fixtures/server.key", string(pkcs8), at(1, "PRIVATE KEY", b64(pkcs8))),
		),
		privateKeyEncrypted.with(
			file("/app/rsa.pem", string(legacy), at(1, "RSA PRIVATE KEY", b64(legacy))),
			file("/app/enc.pem", string(encPKCS8), at(1, "ENCRYPTED PRIVATE KEY", b64(encPKCS8))),
			file("/root/.ssh/id_rsa", string(ossh("aes256-ctr")), at(1, "OPENSSH PRIVATE KEY", b64(ossh("aes256-ctr")))),
			file("/home/u/key.ppk", "PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: aes256-cbc\n",
				at(1, "PuTTY key (aes256-cbc)", base64.StdEncoding.EncodeToString([]byte("PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: aes256-cbc\n")))),
			file("/home/u/key.ppk", "PuTTY-User-Key-File-3: ssh-ed25519\nComment: no encryption line\n"),
		),
		contentTrustKey.with(
			file("/root/.docker/trust/private/4a5b.key", string(dct), at(1, "role root", b64(dct))),
			file("/root/.docker/trust/private/abc.key", string(plainDCT), Want{Line: 1, Key: "role targets", Secret: b64(plainDCT), Severity: SeverityCritical}),
			file("/root/.docker/trust/private/enc.key", string(encPKCS8), Want{Line: 1, Key: "ENCRYPTED PRIVATE KEY", Secret: b64(encPKCS8), Severity: SeverityHigh}),
			file("/app/enc.pem", string(encPKCS8), at(1, "ENCRYPTED PRIVATE KEY", b64(encPKCS8)).of(RulePrivateKeyEncrypted)),
		),
	}}
}

func (privateKeys) Applies([]string) bool { return true }

func (privateKeys) Detect(f *File, c *Collector) {
	scanPrivateKeys(f.Data, strings.Contains(f.Name(), ".docker/trust/private/"), c)
}

var privateKeyEncrypted = Rule{
	ID:          RulePrivateKeyEncrypted,
	Title:       "Encrypted private key",
	Description: "A passphrase-protected private key is in the image. The passphrase can be guessed offline, and is often found beside it.",
	Remediation: "Remove the key from the image and mount it at run time; consider it exposed.",
	Severity:    SeverityMedium,
	Kind:        KindPrivateKey,
	Specificity: SpecificityParsed,
}

var contentTrustKey = Rule{
	ID:          RuleContentTrustKey,
	Title:       "Docker Content Trust signing key",
	Description: "A Docker Content Trust (Notary) private key is in the image: whoever holds the root or a delegation key can sign images as the publisher.",
	Remediation: "Keep trust keys offline (root) or in a secret store; remove them from the image and rotate the affected roles (docker trust key rotate).",
	Severity:    SeverityHigh,
	Kind:        KindPrivateKey,
	Specificity: SpecificityParsed,
}

// exampleKey is a private key for the examples, PKCS#8 DER of an Ed25519
// key derived from seed (as internal/testkeys derives its keys): the same
// bytes on every run, and no real key in the source.
func exampleKey(seed string) []byte {
	s := sha256.Sum256([]byte("key:" + seed))
	der, err := x509.MarshalPKCS8PrivateKey(ed25519.NewKeyFromSeed(s[:]))
	if err != nil {
		panic(err) // an Ed25519 key always marshals
	}
	return der
}

// examplePEM is exampleKey as a PEM block.
func examplePEM(seed string) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: exampleKey(seed)})
}

// pemBase64 is how a key finding's secret is written: the base64 of the
// PEM block's bytes.
func pemBase64(b []byte) string {
	p, _ := pem.Decode(b)
	return base64.StdEncoding.EncodeToString(p.Bytes)
}

var pemBegin = regexp.MustCompile(`-----BEGIN ((?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?)-----`)

// contentTrustRoles are the key roles of Docker Content Trust (Notary),
// written as a "role:" PEM header on the keys under ~/.docker/trust/private.
var contentTrustRoles = map[string]bool{"root": true, "targets": true, "snapshot": true, "timestamp": true}

// scanPrivateKeys finds private keys in text: PEM blocks (PKCS#1, PKCS#8,
// EC, DSA, encrypted PKCS#8 and legacy Proc-Type encryption), OpenSSH and
// PGP keys, PuTTY key files, and Docker Content Trust keys (a role header,
// or a file under .docker/trust/private). inTrustDir says the file lives
// in such a directory.
func scanPrivateKeys(data []byte, inTrustDir bool, c *Collector) {
	if bytes.HasPrefix(data, []byte("PuTTY-User-Key-File-")) {
		scanPuTTY(data, c)
		return
	}
	if !bytes.Contains(data, []byte("PRIVATE KEY")) {
		return
	}
	var lines textscan.Lines
	rest := data
	base := 0
	for {
		m := pemBegin.FindSubmatchIndex(rest)
		if m == nil {
			return
		}
		if lines == nil {
			lines = textscan.NewLines(data)
		}
		off := base + m[0]
		line := lines.Line(off)
		typ := string(rest[m[2]:m[3]])
		block, after := pem.Decode(rest[m[0]:])
		if block == nil {
			c.Dismiss(RulePrivateKey, line, typ, "PEM block does not decode (truncated or an example)")
			base += m[1]
			rest = rest[m[1]:]
			continue
		}
		privateKeyFinding(block, typ, line, inTrustDir, c)
		consumed := len(rest[m[0]:]) - len(after)
		base += m[0] + consumed
		rest = after
	}
}

func privateKeyFinding(block *pem.Block, typ string, line int, inTrustDir bool, c *Collector) {
	secret := base64.StdEncoding.EncodeToString(block.Bytes)
	role := block.Headers["role"]
	encrypted := strings.HasPrefix(typ, "ENCRYPTED") || strings.Contains(block.Headers["Proc-Type"], "ENCRYPTED")
	switch {
	case typ == "OPENSSH PRIVATE KEY":
		enc, ok := opensshEncrypted(block.Bytes)
		if !ok {
			c.Dismiss(RulePrivateKey, line, typ, "not an OpenSSH key structure")
			return
		}
		encrypted = enc
	case typ == "PGP PRIVATE KEY BLOCK":
		// Armored, not DER: its protection is not read here.
	case !encrypted && !parsesAsKey(block.Bytes):
		c.Dismiss(RulePrivateKey, line, typ, "does not parse as a key (truncated or an example)")
		return
	}
	switch {
	case contentTrustRoles[role] || role != "" && inTrustDir || inTrustDir:
		f := newFinding(RuleContentTrustKey, line, typ, secret)
		if role != "" {
			f.Key = "role " + role
		}
		if !encrypted {
			f.Severity = SeverityCritical
		}
		c.Add(f)
	case encrypted:
		c.Add(newFinding(RulePrivateKeyEncrypted, line, typ, secret))
	default:
		c.Add(newFinding(RulePrivateKey, line, typ, secret))
	}
}

// pemKeyIn reports whether text that a rule matched as a PEM private key
// (gitleaks' private-key: a BEGIN line, anything, an END line) holds one:
// a block that parses as a key, or an encrypted key, by the checks of
// peel's own rule. The block may be written in source code as a string
// literal ("-----BEGIN …-----\n" + "MIIE…"), whose quotes, escapes and
// concatenation are undone first. A marker ("-----BEGIN RSA PRIVATE
// KEY-----" alone, as key parsers write it), a header over placeholder
// lines (XXXX, <base64>) or a truncated example is no key.
func pemKeyIn(text string) bool {
	block, _ := pem.Decode(unquotePEM(text))
	if block == nil || !strings.HasSuffix(block.Type, "PRIVATE KEY") && block.Type != "PGP PRIVATE KEY BLOCK" {
		return false
	}
	switch {
	case block.Type == "OPENSSH PRIVATE KEY":
		_, ok := opensshEncrypted(block.Bytes)
		return ok
	case block.Type == "PGP PRIVATE KEY BLOCK":
		return len(block.Bytes) > 64
	case strings.HasPrefix(block.Type, "ENCRYPTED") || strings.Contains(block.Headers["Proc-Type"], "ENCRYPTED"):
		return len(block.Bytes) > 64
	}
	return parsesAsKey(block.Bytes)
}

// unquotePEM undoes how source code writes a PEM block as a string
// literal: escaped line breaks (\n), and on each line the quotes,
// concatenation and punctuation around the text.
func unquotePEM(text string) []byte {
	text = strings.NewReplacer(`\r\n`, "\n", `\\n`, "\n", `\n`, "\n", `\r`, "").Replace(text)
	var b strings.Builder
	for _, l := range strings.Split(text, "\n") {
		for {
			t := strings.TrimSpace(l)
			t = strings.TrimLeft(t, `+"'`+"`")
			if strings.HasPrefix(t, `b"`) || strings.HasPrefix(t, `b'`) || strings.HasPrefix(t, `r"`) {
				t = t[2:]
			}
			t = strings.TrimRight(t, `\"',;+)`+"`")
			if t == l {
				break
			}
			l = t
		}
		b.WriteString(l)
		b.WriteByte('\n')
	}
	return []byte(b.String())
}

// parsesAsKey reports whether DER bytes are a private key the standard
// library reads, or at least one well-formed ASN.1 value (DSA keys).
func parsesAsKey(der []byte) bool {
	if _, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		return true
	}
	if _, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		return true
	}
	if _, err := x509.ParseECPrivateKey(der); err == nil {
		return true
	}
	var v asn1.RawValue
	rest, err := asn1.Unmarshal(der, &v)
	return err == nil && len(rest) == 0 && v.IsCompound && len(v.Bytes) > 64
}

// opensshEncrypted reads the cipher name of an openssh-key-v1 key.
func opensshEncrypted(b []byte) (encrypted, ok bool) {
	const magic = "openssh-key-v1\x00"
	if !bytes.HasPrefix(b, []byte(magic)) || len(b) < len(magic)+4 {
		return false, false
	}
	b = b[len(magic):]
	n := binary.BigEndian.Uint32(b)
	if int(n) > len(b)-4 {
		return false, false
	}
	return string(b[4:4+n]) != "none", true
}

// scanPuTTY reads a PuTTY .ppk file's Encryption header.
func scanPuTTY(data []byte, c *Collector) {
	enc := ""
	textscan.ForEachLine(data, func(line []byte, _ int) {
		if v, ok := bytes.CutPrefix(line, []byte("Encryption:")); ok {
			enc = strings.TrimSpace(string(v))
		}
	})
	first, _, _ := bytes.Cut(data, []byte("\n"))
	secret := base64.StdEncoding.EncodeToString(data[:min(len(data), 64)])
	if enc == "" {
		c.Dismiss(RulePrivateKey, 1, string(first), "PuTTY header without Encryption line")
		return
	}
	if enc == "none" {
		c.Add(newFinding(RulePrivateKey, 1, "PuTTY key", secret))
		return
	}
	c.Add(newFinding(RulePrivateKeyEncrypted, 1, "PuTTY key ("+enc+")", secret))
}
