package rules

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"path"
	"strings"
)

// Well-known public values: credentials that standards, vendors'
// documentation and demo setups publish, so that they open nothing of
// anyone's. Each is dismissed wherever it appears (or in the one file it
// belongs to), with what it is as the reason.

// wellKnownValue is one published value.
type wellKnownValue struct {
	reason string
	// file, when set, is the base name of the only file where the value
	// is the published one (a demo section of a vendor's config).
	file string
}

// published are the well-known values by their exact text.
var published = func() map[string]wellKnownValue {
	m := map[string]wellKnownValue{}
	add := func(reason, file string, values ...string) {
		for _, v := range values {
			m[v] = wellKnownValue{reason: reason, file: file}
		}
	}
	add("AWS's documentation example credentials", "",
		"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "AKIAI44QH8DHBEXAMPLE", "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY")
	// RFC 6749 (OAuth 2.0) and RFC 6750 (bearer tokens), in their
	// examples; OAuth libraries quote them in docstrings and tests.
	add("RFC 6749/6750's example OAuth 2.0 value", "",
		"2YotnFZFEjr1zCsicMWpAA", "tGzv3JOkF0XG5Qx2TlKWIA", "SplxlOBeZQQYbYS6WxSbIA", "s6BhdRkqt3", "7Fjfp0ZBr1KtDRbnfVdmIw",
		"gX1fBat3bV", "czZCaGRSa3F0MzpnWDFmQmF0M2JW", "mF_9.B5f-4.1JqM")
	// RFC 5849 (OAuth 1.0): the client, temporary and token credentials
	// of its example, and the header of its section 3.5.1.
	add("RFC 5849's example OAuth 1.0 value", "",
		"dpf43f3p2l4k3l03", "kd94hf93k423kf44", "hh5s93j4hdidpola", "hdhd0244k9j7ao03", "hfdp7dh39dks9884",
		"nnch734d00sl2jdk", "pfkkdhi9sl3r4s00", "9djdj82h48djs9d2", "kkk9d7dh3k39sjv7",
		"0685bd9184jfhq22", "ad180jjd733klru7", "wOJIO9A2W5mFwDgiDvZbTSMK/PY=", "4572616e48616d6d65724c61686176")
	// jwt.io's example token (HS256, "your-256-bit-secret").
	add("jwt.io's example JWT", "",
		"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c")
	// The Google Cloud SDK (gcloud, bq) embeds the API keys it reports
	// errors and crashes with and the OAuth client secrets of its
	// installed-application clients, which Google publishes in every copy
	// and whose "secret" protects nothing (installed apps cannot keep one).
	// The keys are written in two parts, so that this file holds no
	// string of the form of a live key.
	add("the Google Cloud SDK's published error-reporting API key", "",
		"AIza"+"SyCUuWyME_r4XylltWNeydEjKSkgXkvpVyU", "AIza"+"SyAp4DSI_Z3-mK-B8U0t7GE34n74OWDJmak")
	add("the Google Cloud SDK's published OAuth client secret of an installed application", "",
		"d-FL95Q19q7MQmFpd7hHD0Ty", "ZmssLNjJy2998hD4CTg2ejr2", "wbER7576mc_1YOII0dGk7jEE")
	add("gsutil's published API key, which identifies it in anonymous requests (\"not secret\", its source says)", "",
		"AIza"+"SyDnacJHrKma0048b13sh8cgxNUwulubmJM")
	add("the example client secret of Jetty's openid module", "openid.mod", "XT_Mafv_aUCGheuCaKY8P")
	// openssl.cnf's [insta] section configures the CMP demo against
	// Insta's public demo CA, with the shared secret its docs publish.
	add("OpenSSL's CMP demo secret for Insta's public demo CA", "openssl.cnf", "pass:insta", "insta")
	add("an alphabet, not a secret", "",
		"0123456789abcdef", "0123456789ABCDEF", "abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
	return m
}()

// publishedKeys are private keys that projects publish with their sources
// for their tests, by the SHA-256 of their DER (the keys themselves are not
// in this file): they ship inside the fat jars and trees that bundle those
// projects, and sign nothing of anyone's.
var publishedKeys = map[string]string{
	// grpc-java's testing certificates (certs/ in grpc-testing, bundled by
	// the jars that shade it).
	"1ef316b5d2ca4f98a60cb765d57987202852078506cbb45adb6f5c8bbe5058b2": "gRPC's test CA key (certs/ca.key)",
	"404f9e811ce5f099d07c4621fecfe8e1ea39750487038afcc9c334a37d68650d": "gRPC's test server key (certs/server0.key)",
	"7de1d1cbede97e1995ccd1d88126627937b7ea8ac2a7c7b508db26eb62723201": "gRPC's test server key (certs/server1.key)",
	"48f08cb09f8d0d3f6b78e0693acc292247c1e55b7ff05bd3a5195e5d86f733d9": "gRPC's test client key (certs/client.key)",
	"5072fcd836e9a8ef628119d298668402f1f8f1c131aa496c0a9846eddaf4d44c": "gRPC's test client key (certs/badclient.key)",
	"19a067c97469388aea6dfe9ba382e3d0c1ad32c926272a4ecc8da9285908e26f": "gRPC's test server key (certs/badserver.key)",
	"373df034e7a76d0df87357255f5892a42b3a927f6ca960840fadf2ff57d2d88f": "gRPC's test key (certs/ecdsa.key)",
	// Go's source tree: the root key of crypto/x509's platform tests.
	"ec5fa9904554f5f463b880ff4aa3985e83574ef94fcc4651a05ca7181f6f03dc": "Go's crypto/x509 test root key (platform_root_key.pem)",
}

// keyFingerprint is the SHA-256 of a key finding's DER, hex: peel's key
// rules write the DER in base64, gitleaks' the PEM text.
func keyFingerprint(secret string) string {
	der, err := base64.StdEncoding.DecodeString(secret)
	if err != nil {
		block, _ := pem.Decode(unquotePEM(secret))
		if block == nil {
			return ""
		}
		der = block.Bytes
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}

// wellKnown says why a finding's secret is a published value, or "".
func wellKnown(chain []string, f *Finding) string {
	if w, ok := published[f.Secret]; ok && (w.file == "" || path.Base(innermost(chain)) == w.file) {
		return "well-known public value: " + w.reason
	}
	switch f.RuleID {
	case RulePrivateKey, RulePrivateKeyEncrypted, GitleaksPrefix + "private-key":
		if why, ok := publishedKeys[keyFingerprint(f.Secret)]; ok {
			return "well-known public key: " + why
		}
	}
	if len(f.Secret) >= 16 && strings.Contains(f.Secret, "EXAMPLE") && !strings.ContainsAny(f.Secret, " \t") {
		return "well-known public value: marked EXAMPLE, as AWS's documentation writes its examples"
	}
	// Oracle's demo schema scott/tiger, the example account of database
	// documentation and ORMs (SQLAlchemy's docstrings: scott:tiger@host).
	if f.RuleID == RuleURLCredentials && strings.HasSuffix(f.Key, "://scott") && strings.HasPrefix(f.Secret, "tiger") {
		return "well-known public value: Oracle's demo account scott/tiger"
	}
	return ""
}
