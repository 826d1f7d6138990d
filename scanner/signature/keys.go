package signature

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"

	"github.com/sigstore/sigstore/pkg/cryptoutils"
)

// maxKeyFile bounds a public key file.
const maxKeyFile = 64 << 10

// Key is a cosign public key signatures are verified with.
type Key struct {
	// Name says where the key came from (its file), as reports show it.
	Name string
	// ID is the SHA-256 of the key's PKIX encoding, as "sha256:HEX";
	// hint is its base64, as cosign writes it in a bundle.
	ID   string
	hint string
	pub  crypto.PublicKey
}

// LoadKey reads a cosign public key (PEM, as cosign generate-key-pair
// writes cosign.pub: ECDSA, Ed25519 or RSA).
func LoadKey(path string) (Key, error) {
	st, err := os.Stat(path)
	if err != nil {
		return Key{}, err
	}
	if !st.Mode().IsRegular() || st.Size() > maxKeyFile {
		return Key{}, fmt.Errorf("%s: not a regular file of at most %d bytes", path, maxKeyFile)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return Key{}, err
	}
	return ParseKey(filepath.Base(path), b)
}

// ParseKey reads a PEM public key named name.
func ParseKey(name string, pemBytes []byte) (Key, error) {
	pub, err := cryptoutils.UnmarshalPEMToPublicKey(pemBytes)
	if err != nil {
		return Key{}, fmt.Errorf("%s: not a PEM public key: %w", name, err)
	}
	switch pub.(type) {
	case *ecdsa.PublicKey, ed25519.PublicKey, *rsa.PublicKey:
	default:
		return Key{}, fmt.Errorf("%s: a %T is not a key cosign signs with", name, pub)
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return Key{}, fmt.Errorf("%s: %w", name, err)
	}
	sum := sha256.Sum256(der)
	return Key{Name: name, ID: "sha256:" + hex.EncodeToString(sum[:]), hint: base64.StdEncoding.EncodeToString(sum[:]), pub: pub}, nil
}

// verify checks sig over msg with the key, as cosign signs: SHA-256, then
// ECDSA (ASN.1), RSA (PKCS #1 v1.5 or PSS), or Ed25519 over msg itself.
// The standard library does it; sigstore's signature package would do the
// same and bring the protobuf runtime with it (see bundle).
func (k Key) verify(sig, msg []byte) bool {
	h := sha256.Sum256(msg)
	switch p := k.pub.(type) {
	case *ecdsa.PublicKey:
		return ecdsa.VerifyASN1(p, h[:], sig)
	case ed25519.PublicKey:
		return ed25519.Verify(p, msg, sig)
	case *rsa.PublicKey:
		return rsa.VerifyPKCS1v15(p, crypto.SHA256, h[:], sig) == nil || rsa.VerifyPSS(p, crypto.SHA256, h[:], sig, nil) == nil
	}
	return false
}

// label is how a report names the key: its file and the start of its ID.
func (k Key) label() string { return fmt.Sprintf("%s (%s)", k.Name, k.ID[:len("sha256:")+12]) }
