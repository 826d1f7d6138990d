package rules

import (
	"bytes"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/binary"
	"encoding/pem"
	"regexp"
	"strings"
)

var pemBegin = regexp.MustCompile(`-----BEGIN ((?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?)-----`)

// contentTrustRoles are the key roles of Docker Content Trust (Notary),
// written as a "role:" PEM header on the keys under ~/.docker/trust/private.
var contentTrustRoles = map[string]bool{"root": true, "targets": true, "snapshot": true, "timestamp": true}

// scanPrivateKeys finds private keys in text: PEM blocks (PKCS#1, PKCS#8,
// EC, DSA, encrypted PKCS#8 and legacy Proc-Type encryption), OpenSSH and
// PGP keys, PuTTY key files, and Docker Content Trust keys (a role header,
// or a file under .docker/trust/private). inTrustDir says the file lives
// in such a directory.
func scanPrivateKeys(data []byte, inTrustDir bool, c *collector) {
	if bytes.HasPrefix(data, []byte("PuTTY-User-Key-File-")) {
		scanPuTTY(data, c)
		return
	}
	if !bytes.Contains(data, []byte("PRIVATE KEY")) {
		return
	}
	var lines lineIndex
	rest := data
	base := 0
	for {
		m := pemBegin.FindSubmatchIndex(rest)
		if m == nil {
			return
		}
		if lines == nil {
			lines = newLineIndex(data)
		}
		off := base + m[0]
		line := lines.line(off)
		typ := string(rest[m[2]:m[3]])
		block, after := pem.Decode(rest[m[0]:])
		if block == nil {
			c.dismiss(RulePrivateKey, line, typ, "PEM block does not decode (truncated or an example)")
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

func privateKeyFinding(block *pem.Block, typ string, line int, inTrustDir bool, c *collector) {
	secret := base64.StdEncoding.EncodeToString(block.Bytes)
	role := block.Headers["role"]
	encrypted := strings.HasPrefix(typ, "ENCRYPTED") || strings.Contains(block.Headers["Proc-Type"], "ENCRYPTED")
	switch {
	case typ == "OPENSSH PRIVATE KEY":
		enc, ok := opensshEncrypted(block.Bytes)
		if !ok {
			c.dismiss(RulePrivateKey, line, typ, "not an OpenSSH key structure")
			return
		}
		encrypted = enc
	case typ == "PGP PRIVATE KEY BLOCK":
		// Armored, not DER: its protection is not read here.
	case !encrypted && !parsesAsKey(block.Bytes):
		c.dismiss(RulePrivateKey, line, typ, "does not parse as a key (truncated or an example)")
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
		c.add(f)
	case encrypted:
		c.add(newFinding(RulePrivateKeyEncrypted, line, typ, secret))
	default:
		c.add(newFinding(RulePrivateKey, line, typ, secret))
	}
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
func scanPuTTY(data []byte, c *collector) {
	enc := ""
	forEachLine(data, func(line []byte, _ int) {
		if v, ok := bytes.CutPrefix(line, []byte("Encryption:")); ok {
			enc = strings.TrimSpace(string(v))
		}
	})
	first, _, _ := bytes.Cut(data, []byte("\n"))
	secret := base64.StdEncoding.EncodeToString(data[:min(len(data), 64)])
	if enc == "" {
		c.dismiss(RulePrivateKey, 1, string(first), "PuTTY header without Encryption line")
		return
	}
	if enc == "none" {
		c.add(newFinding(RulePrivateKey, 1, "PuTTY key", secret))
		return
	}
	c.add(newFinding(RulePrivateKeyEncrypted, 1, "PuTTY key ("+enc+")", secret))
}
