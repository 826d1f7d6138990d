package rules

import (
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
	add("the example client secret of Jetty's openid module", "openid.mod", "XT_Mafv_aUCGheuCaKY8P")
	// openssl.cnf's [insta] section configures the CMP demo against
	// Insta's public demo CA, with the shared secret its docs publish.
	add("OpenSSL's CMP demo secret for Insta's public demo CA", "openssl.cnf", "pass:insta", "insta")
	add("an alphabet, not a secret", "",
		"0123456789abcdef", "0123456789ABCDEF", "abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
	return m
}()

// wellKnown says why a finding's secret is a published value, or "".
func wellKnown(chain []string, f *Finding) string {
	if w, ok := published[f.Secret]; ok && (w.file == "" || path.Base(innermost(chain)) == w.file) {
		return "well-known public value: " + w.reason
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
