package keystore

import (
	"encoding/asn1"
	"fmt"
	"unicode/utf16"
)

// PKCS#12 structures, read with encoding/asn1 to list the bags that are not
// encrypted. go-pkcs12 checks passwords and decrypts, but exposes neither
// the bags' friendly names (the aliases keytool shows) nor anything before
// the password is known; JDK and OpenSSL stores keep their shrouded key bags,
// with their names, in plain data content.
var (
	oidDataContent    = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	oidKeyBag         = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 10, 1, 1}
	oidShroudedKeyBag = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 10, 1, 2}
	oidCertBag        = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 10, 1, 3}
	oidFriendlyName   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 20}
)

type p12PFX struct {
	Version  int
	AuthSafe p12ContentInfo
	MacData  asn1.RawValue `asn1:"optional"`
}

type p12ContentInfo struct {
	ContentType asn1.ObjectIdentifier
	Content     asn1.RawValue `asn1:"tag:0,explicit,optional"`
}

type p12SafeBag struct {
	ID         asn1.ObjectIdentifier
	Value      asn1.RawValue  `asn1:"tag:0,explicit"`
	Attributes []p12Attribute `asn1:"set,optional"`
}

type p12Attribute struct {
	ID    asn1.ObjectIdentifier
	Value asn1.RawValue `asn1:"set"`
}

func walkPKCS12(data []byte) ([]Entry, bool, error) {
	var pfx p12PFX
	if _, err := asn1.Unmarshal(data, &pfx); err != nil {
		return nil, false, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if pfx.Version != 3 || !pfx.AuthSafe.ContentType.Equal(oidDataContent) {
		// Public-key integrity mode: nothing is readable here.
		return nil, false, nil
	}
	var authSafeBytes []byte
	if _, err := asn1.Unmarshal(pfx.AuthSafe.Content.Bytes, &authSafeBytes); err != nil {
		return nil, false, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	var infos []p12ContentInfo
	if _, err := asn1.Unmarshal(authSafeBytes, &infos); err != nil {
		return nil, false, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	complete := true
	var entries []Entry
	for _, ci := range infos {
		if !ci.ContentType.Equal(oidDataContent) {
			complete = false
			continue
		}
		var contents []byte
		if _, err := asn1.Unmarshal(ci.Content.Bytes, &contents); err != nil {
			return entries, false, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		var bags []p12SafeBag
		if _, err := asn1.Unmarshal(contents, &bags); err != nil {
			return entries, false, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		for _, b := range bags {
			e := Entry{Alias: friendlyName(b.Attributes)}
			switch {
			case b.ID.Equal(oidKeyBag), b.ID.Equal(oidShroudedKeyBag):
				e.PrivateKey = true
			case b.ID.Equal(oidCertBag):
			default:
				continue
			}
			entries = append(entries, e)
		}
	}
	return entries, complete, nil
}

func friendlyName(attrs []p12Attribute) string {
	for _, a := range attrs {
		if !a.ID.Equal(oidFriendlyName) {
			continue
		}
		var bmp asn1.RawValue
		if _, err := asn1.Unmarshal(a.Value.Bytes, &bmp); err != nil || bmp.Tag != 30 || len(bmp.Bytes)%2 != 0 {
			return ""
		}
		u := make([]uint16, len(bmp.Bytes)/2)
		for i := range u {
			u[i] = uint16(bmp.Bytes[2*i])<<8 | uint16(bmp.Bytes[2*i+1])
		}
		return string(utf16.Decode(u))
	}
	return ""
}

// Limits on the key-derivation work a PKCS#12 file can ask for. The file
// sets its own iteration counts (JDK 17: 10 000, OpenSSL 3: 2 048), and every
// password tried pays them, so a hostile count would stall a scan.
const (
	// MaxPKCS12Iterations is the largest iteration count accepted.
	MaxPKCS12Iterations = 10_000_000
	// pkcs12WorkBudget bounds iterations × passwords tried per store.
	pkcs12WorkBudget = 50_000_000
	maxDERNodes      = 100_000
)

// maxIterations returns the largest iteration count in the DER tree of a
// PKCS#12 file: every INTEGER that follows an OCTET STRING (a salt) in the
// same SEQUENCE, which is how MacData, PBEParameter and PBKDF2-params are
// laid out. OCTET STRINGs that hold DER (the authenticated safe, safe
// contents) are walked too; encrypted bytes fail to parse and are skipped.
func maxIterations(der []byte) int64 {
	var (
		max   int64
		nodes int
	)
	var walk func(b []byte, depth int)
	walk = func(b []byte, depth int) {
		if depth > 32 {
			return
		}
		prevSalt := false
		for len(b) > 0 && nodes < maxDERNodes {
			nodes++
			var v asn1.RawValue
			rest, err := asn1.Unmarshal(b, &v)
			if err != nil {
				return
			}
			b = rest
			switch {
			case v.Class == asn1.ClassUniversal && v.Tag == asn1.TagInteger && prevSalt:
				var n int64
				if _, err := asn1.Unmarshal(v.FullBytes, &n); err != nil {
					n = 1 << 62 // too large for int64
				}
				if n > max {
					max = n
				}
			case v.IsCompound:
				walk(v.Bytes, depth+1)
			case v.Class == asn1.ClassUniversal && v.Tag == asn1.TagOctetString && len(v.Bytes) > 0 && v.Bytes[0] == 0x30:
				walk(v.Bytes, depth+1)
			}
			prevSalt = v.Class == asn1.ClassUniversal && v.Tag == asn1.TagOctetString
		}
	}
	walk(der, 0)
	return max
}
