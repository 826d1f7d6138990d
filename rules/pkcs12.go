package rules

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
	oidDataContent      = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	oidEncryptedContent = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 6}
	oidKeyBag           = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 10, 1, 1}
	oidShroudedKeyBag   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 10, 1, 2}
	oidCertBag          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 10, 1, 3}
	oidFriendlyName     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 20}
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

func walkPKCS12(data []byte) ([]KeystoreEntry, bool, error) {
	var pfx p12PFX
	if _, err := asn1.Unmarshal(data, &pfx); err != nil {
		return nil, false, fmt.Errorf("%w: %v", ErrMalformedKeystore, err)
	}
	if pfx.Version != 3 || !pfx.AuthSafe.ContentType.Equal(oidDataContent) {
		// Public-key integrity mode: nothing is readable here.
		return nil, false, nil
	}
	var authSafeBytes []byte
	if _, err := asn1.Unmarshal(pfx.AuthSafe.Content.Bytes, &authSafeBytes); err != nil {
		return nil, false, fmt.Errorf("%w: %v", ErrMalformedKeystore, err)
	}
	var infos []p12ContentInfo
	if _, err := asn1.Unmarshal(authSafeBytes, &infos); err != nil {
		return nil, false, fmt.Errorf("%w: %v", ErrMalformedKeystore, err)
	}
	complete := true
	var entries []KeystoreEntry
	for _, ci := range infos {
		if !ci.ContentType.Equal(oidDataContent) {
			complete = false
			continue
		}
		var contents []byte
		if _, err := asn1.Unmarshal(ci.Content.Bytes, &contents); err != nil {
			return entries, false, fmt.Errorf("%w: %v", ErrMalformedKeystore, err)
		}
		var bags []p12SafeBag
		if _, err := asn1.Unmarshal(contents, &bags); err != nil {
			return entries, false, fmt.Errorf("%w: %v", ErrMalformedKeystore, err)
		}
		for _, b := range bags {
			e := KeystoreEntry{Alias: friendlyName(b.Attributes)}
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
