// Package testkeys builds synthetic keys, certificates and Java keystores
// for tests and fixtures. Everything is derived from a seed string, so the
// same seed gives the same bytes on every run: fixtures are reproducible
// and nothing in them is a real secret.
package testkeys

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"fmt"
	"io"
	"math/big"
	"time"
	"unicode/utf16"

	"github.com/pavlo-v-chernykh/keystore-go/v4"
	"software.sslmate.com/src/go-pkcs12"
)

// epoch is the fixed creation time of every fixture certificate and entry.
var epoch = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)

// Reader returns an endless deterministic byte stream derived from seed
// (SHA-256 in counter mode), for APIs that take a random source.
func Reader(seed string) io.Reader { return &stream{seed: sha256.Sum256([]byte(seed))} }

type stream struct {
	seed [32]byte
	n    uint64
	buf  []byte
}

func (s *stream) Read(p []byte) (int, error) {
	for len(s.buf) < len(p) {
		var ctr [8]byte
		binary.BigEndian.PutUint64(ctr[:], s.n)
		s.n++
		h := sha256.Sum256(append(s.seed[:], ctr[:]...))
		s.buf = append(s.buf, h[:]...)
	}
	n := copy(p, s.buf)
	s.buf = s.buf[n:]
	return n, nil
}

// Key is a synthetic key pair with its self-signed certificate.
type Key struct {
	Private ed25519.PrivateKey
	PKCS8   []byte // the private key, PKCS#8 DER
	Cert    *x509.Certificate
}

// NewKey derives an Ed25519 key from seed and self-signs a certificate for
// commonName. Ed25519 is used because its key generation and signatures are
// deterministic; the JDK reads it since Java 15.
func NewKey(seed, commonName string) Key {
	s := sha256.Sum256([]byte("key:" + seed))
	priv := ed25519.NewKeyFromSeed(s[:])
	serial := new(big.Int).SetBytes(s[:8])
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: commonName, Organization: []string{"peel test fixture"}},
		NotBefore:             epoch,
		NotAfter:              epoch.AddDate(30, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(Reader(seed), tmpl, tmpl, priv.Public(), priv)
	if err != nil {
		panic(fmt.Sprintf("testkeys: certificate for %q: %v", seed, err)) // fixed inputs: cannot fail
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		panic(fmt.Sprintf("testkeys: parsing certificate for %q: %v", seed, err))
	}
	p8, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		panic(fmt.Sprintf("testkeys: PKCS#8 for %q: %v", seed, err))
	}
	return Key{Private: priv, PKCS8: p8, Cert: cert}
}

// JKS writes a JKS keystore with one private-key entry per alias (each key
// derived from alias), all protected by password.
func JKS(password string, aliases ...string) []byte {
	ks := keystore.New(keystore.WithOrderedAliases(), keystore.WithCustomRandomNumberGenerator(Reader("jks:"+password)))
	for _, alias := range aliases {
		k := NewKey(alias, alias+".peel.test")
		entry := keystore.PrivateKeyEntry{
			CreationTime:     epoch,
			PrivateKey:       k.PKCS8,
			CertificateChain: []keystore.Certificate{{Type: "X509", Content: k.Cert.Raw}},
		}
		if err := ks.SetPrivateKeyEntry(alias, entry, []byte(password)); err != nil {
			panic(fmt.Sprintf("testkeys: JKS entry %q: %v", alias, err))
		}
	}
	return storeJKS(ks, password)
}

// TrustStore writes a JKS trust store (trusted certificates only), as the
// JDK's lib/security/cacerts is.
func TrustStore(password string, aliases ...string) []byte {
	ks := keystore.New(keystore.WithOrderedAliases())
	for _, alias := range aliases {
		k := NewKey(alias, alias)
		entry := keystore.TrustedCertificateEntry{
			CreationTime: epoch,
			Certificate:  keystore.Certificate{Type: "X509", Content: k.Cert.Raw},
		}
		if err := ks.SetTrustedCertificateEntry(alias, entry); err != nil {
			panic(fmt.Sprintf("testkeys: trusted entry %q: %v", alias, err))
		}
	}
	return storeJKS(ks, password)
}

func storeJKS(ks keystore.KeyStore, password string) []byte {
	var buf bytes.Buffer
	if err := ks.Store(&buf, []byte(password)); err != nil {
		panic(fmt.Sprintf("testkeys: storing JKS: %v", err))
	}
	return buf.Bytes()
}

// PKCS12 writes a PKCS#12 store holding one private key (derived from
// alias) and its certificate, encrypted with modern algorithms (PBES2,
// AES-256) as JDK 17's keytool does.
func PKCS12(password, alias string) []byte {
	k := NewKey(alias, alias+".peel.test")
	pfx, err := pkcs12.Modern.WithRand(Reader("p12:"+password)).Encode(k.Private, k.Cert, nil, password)
	if err != nil {
		panic(fmt.Sprintf("testkeys: PKCS#12 %q: %v", alias, err))
	}
	return pfx
}

// PKCS12Iterations is PKCS12 with every key derivation (the MAC's, the
// key's and the certificates' encryption) run for iterations rounds.
func PKCS12Iterations(password, alias string, iterations int) []byte {
	k := NewKey(alias, alias+".peel.test")
	pfx, err := pkcs12.Modern.WithIterations(iterations).WithRand(Reader("p12:"+password)).Encode(k.Private, k.Cert, nil, password)
	if err != nil {
		panic(fmt.Sprintf("testkeys: PKCS#12 %q: %v", alias, err))
	}
	return pfx
}

// JCEKS writes a store in the JCEKS format (magic 0xCECECECE) holding one
// private-key entry per alias. The entries are laid out as in JKS, which
// JCEKS shares; the keys are protected as keystore-go protects JKS keys
// rather than with JCEKS's PBEWithMD5AndTripleDES, which no Go library
// writes. The integrity digest is JCEKS's own, so the store password
// verifies as it would in the JDK.
func JCEKS(password string, aliases ...string) []byte {
	b := JKS(password, aliases...)
	binary.BigEndian.PutUint32(b, 0xCECECECE)
	body := b[:len(b)-sha1.Size]
	h := sha1.New()
	for _, u := range utf16.Encode([]rune(password)) {
		h.Write([]byte{byte(u >> 8), byte(u)})
	}
	h.Write([]byte("Mighty Aphrodite"))
	h.Write(body)
	return append(body, h.Sum(nil)...)
}
