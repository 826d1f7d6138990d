package rules

import (
	"math/rand"
	"slices"
	"strings"
	"testing"
)

// TestSecretValues: a key that names a password takes any literal that is
// no placeholder, weak passwords and dictionary words included; a key that
// names a token, a key or credentials takes only a value with a
// credential's shape.
func TestSecretValues(t *testing.T) {
	for _, c := range []struct {
		key, value string
		secret     bool
	}{
		// Weak passwords are what the lesson is about: they fire.
		{"server.ssl.key-store-password", "springboot", true},
		{"trust-store-password", "changeit", true},
		{"db.password", "hunter2", true},
		{"DB_PASSWORD", "s3cr3t", true},
		{"spring.datasource.password", "P@ssw0rd!", true},
		{"ldap.pass", "password", true},
		{"app.client-secret", "abcdef", true},
		{"aws.secret-key", "AKfakefakefake", true},
		{"db.password", "correct horse battery staple", true},
		// Tokens and keys with a credential's shape fire.
		{"app.token", "dev-token-1", true},
		{"OLD_TOKEN", "zoo-deleted-token", true},
		{"NPM_TOKEN", "zoo_build_arg_token", true},
		{"my.api_key", "k-123456", true},
		{"API_TOKEN", "ghp_Pe3lTestT0kenR4nd0mCh4rsXyZ012345678", true},
		{"auth.token", "Bearer eyJhbGciOiJIUzI1NiJ9.e30.c2ln", true},
		{"access_key", "qWxZbnHtRkLpMnBvCxZq", true},
		// Field names, enum words and prose under token keys do not.
		{"pagination.GetGroups.input_token", "NextToken", false},
		{"pagination.X.input_token", "nextPageToken", false},
		{"pagination.X.output_token", "StreamDescription.Shards[-1].ShardId", false},
		{"pagination.X.input_token", "Marker", false},
		{"jobs.publish.permissions.id-token", "write", false},
		{"token", "or range handler return default", false},
		{"auth.token", "Bearer abc.def", false},
		{"private_key", "return=test=type,key", false},
		{"key_data", "time_string=name=deploy", false},
		{"private_key", "is", false},
		{"sas_token", "sv=2020-08-04&ss=b&srt=sco&sp=rl&se=2030-01-01T00:00:00Z&sig=Pe3lS1gN4tur3Q", true},
		// Stand-ins are no secret under any key.
		{"token", "$BUILD_TIME$", false},
		{"token", `\$VERSION\$`, false},
		{"secret", "$insta::secret", false},
		{"secret", "# disable PBM", false},
		{"db.password", "%(password)s", false},
		{"seedPhraseSecret", "{__relative_name__}", false},
		{"db.password", "$DB_PASSWORD", false},
		{"db.password", "%DB_PASSWORD%", false},
		// Key material is the private key rules' to judge.
		{"service.credentials", "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----", false},
	} {
		_, _, ok, why := ClassifyKeyValue(c.key, c.value)
		if ok != c.secret {
			t.Errorf("%s=%q: secret %v (%s), want %v", c.key, c.value, ok, why, c.secret)
		}
	}
}

// TestIdentifiers: names in code and configuration read as identifiers,
// random strings of every alphabet almost never do.
func TestIdentifiers(t *testing.T) {
	for _, s := range []string{"AES/GCM/NoPadding", "_private_key_pkcs12", "self._private_key_pkcs8_pem", "argon2id.PASSWD_MIN",
		"crypto_sign_curve25519_BYTES", "v4-unsigned-body", "is_mixin_scan=True", "passive=attributes.PASSIVE_OFF",
		"rfc3447.RSAPrivateKey", "rfc7191.id_aa_KP_keyPkgIdAndReceiptReq", "ed25519.Ed25519PrivateKey", "testRSA2048PrivateKey",
		"Ipv6CidrAssociations", "CKK_NSS_JPAKE_ROUND1", "PBKDF2WithHmacSHA512/224", "organizations/54321", "max_bytes=65536",
		"Crypto_SM4_2Vector_Intrinsic", "serialized_pb=b", "croatian-UTF-8", "NewDecapsulationKey768",
		"gnutls_x509_crt_fmt_t", "llvm.x86.avx.addsub.pd.256"} {
		if !isIdentifier(s, true) {
			t.Errorf("isIdentifier(%q) = false, want true", s)
		}
	}
	for _, s := range []string{"Q3v9X2kP7mL4tR8wZ6nB1cY5", "0685bd9184jfhq22", "2kjshdfp92i34asdasd", "lsdajfh923874",
		"wJalrXUtnFEMI/K7MDENG/bPxRfiCYPEELKEY", "EAAAAAABIqQcAAAAPhesDAACAPTHADQAAD4QrAQAAkEi6AAAAAACA",
		"e0d96d6fad35a61a0577f467940509b5aa08b6dea8d99456ec19a6e47126bc52", "d-FL95Q19q7MQmFpd7hHD0Ty", "cks-1234567890abcdef0"} {
		if isIdentifier(s, true) {
			t.Errorf("isIdentifier(%q) = true, want false", s)
		}
	}
	// Random strings: the share taken for names, per alphabet and length,
	// stays under a bound (measured: about 1 % at 16 characters of base62,
	// 0.2 % at 32).
	r := rand.New(rand.NewSource(1))
	for _, alpha := range []string{
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-",
		"0123456789abcdef", "abcdefghijklmnopqrstuvwxyz0123456789",
	} {
		for _, c := range []struct {
			n     int
			bound float64
		}{{16, 0.02}, {24, 0.008}, {32, 0.004}} {
			const tries = 5000
			hits := 0
			b := make([]byte, c.n)
			for range tries {
				for j := range b {
					b[j] = alpha[r.Intn(len(alpha))]
				}
				if isIdentifier(string(b), true) {
					hits++
				}
			}
			if share := float64(hits) / tries; share > c.bound {
				t.Errorf("%d-character strings of %.16s…: %.2f %% read as identifiers, want under %.1f %%", c.n, alpha, 100*share, 100*c.bound)
			}
		}
	}
}

// TestPublishedKeys: a private key that a project publishes for its tests
// is dismissed by its fingerprint, whichever rule found it and wherever it
// is; another key is reported.
func TestPublishedKeys(t *testing.T) {
	e := engine(t)
	key := examplePEM("published")
	publishedKeys[keyFingerprint(pemBase64(key))] = "a test key of the example project"
	defer delete(publishedKeys, keyFingerprint(pemBase64(key)))
	for _, data := range []string{string(key), "KEY = \"" + strings.ReplaceAll(string(key), "\n", `\n`) + "\"\n"} {
		r := e.Scan(&File{Path: []string{"/app/x-all.jar", "certs/server1.key"}, Data: []byte(data)}, ScanOptions{})
		if len(r.Findings) != 0 || !slices.ContainsFunc(r.Dismissed, func(d Dismissal) bool {
			return d.Reason == "well-known public key: a test key of the example project"
		}) {
			t.Errorf("%q: findings %+v, dismissed %+v", data[:40], r.Findings, r.Dismissed)
		}
	}
	r := e.Scan(&File{Path: []string{"/app/certs/server.key"}, Data: examplePEM("not-published")}, ScanOptions{})
	if len(r.Findings) != 1 {
		t.Errorf("an unpublished key: %+v", r.Findings)
	}
}
