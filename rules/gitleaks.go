package rules

import (
	"strings"

	"github.com/peelscan/peel/rules/internal/gitleaks"
)

// gitleaksDetector runs a gitleaks config's rules (gitleaks' default
// catalogue, or a team's .gitleaks.toml) over every text, command line and
// image config entry. Its rules are the config's, each as peel rule
// gitleaks.<id>.
type gitleaksDetector struct {
	gl    *gitleaks.Engine
	rules []Rule
	byID  map[string]Rule // by gitleaks' ID
}

func newGitleaksDetector(config []byte) (*gitleaksDetector, error) {
	gl, err := gitleaks.New(config)
	if err != nil {
		return nil, err
	}
	d := &gitleaksDetector{gl: gl, byID: map[string]Rule{}}
	examples := gitleaksExamples()
	for _, r := range gl.Rules() {
		pr := gitleaksRule(r)
		if r.Builtin {
			pr.Examples = examples[r.ID]
		}
		d.rules = append(d.rules, pr)
		d.byID[r.ID] = pr
	}
	return d, nil
}

// gitleaksRule maps a gitleaks rule to peel's catalogue: provider keys in
// their live format are critical, generic high-entropy rules low, and a
// team's own rules high; a "severity:NAME" tag overrides.
func gitleaksRule(r gitleaks.Rule) Rule {
	sev, kind, spec := SeverityCritical, KindToken, SpecificityIssuer
	switch {
	case r.Generic:
		sev, kind, spec = SeverityLow, KindSecret, SpecificityEntropy
	case !r.Builtin:
		sev, kind = SeverityHigh, KindSecret
	}
	for _, t := range r.Tags {
		if name, ok := strings.CutPrefix(t, "severity:"); ok {
			if s, err := ParseSeverity(name); err == nil && s != SeverityNone {
				sev = s
			}
		}
	}
	description := r.Description
	if description == "" {
		description = "Matches gitleaks rule " + r.ID + "."
	}
	return Rule{
		ID:          GitleaksPrefix + r.ID,
		Title:       strings.TrimSuffix(description, "."),
		Description: description + " (gitleaks rule " + r.ID + ")",
		Remediation: rotate,
		Severity:    sev,
		Kind:        kind,
		Specificity: spec,
	}
}

// gitleaksExamples are peel's examples of a few of gitleaks' own rules:
// how they meet peel's detectors and policies. (gitleaks checks its rules
// against examples of its own when it generates its catalogue.)
func gitleaksExamples() map[string][]Example {
	aws := "AKIA" + strings.Repeat("Q", 4) + "7PEELEXA" + "Z2X4"
	ghp := "ghp_" + "Pe3lTestT0ken" + "R4nd0mCh4rsXyZ" + "012345678"
	gcp := "AIza" + "Sy" + "Pe3lTestK3yR4nd0mCh4rsXyZ01234567"
	gcloudKey := "AIza" + "SyCUuWyME_r4XylltWNeydEjKSkgXkvpVyU"
	escapedPEM := strings.ReplaceAll(string(examplePEM("service-account")), "\n", `\n`)
	jwt := "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9." + "eyJzdWIiOiJwZWVsLWV4YW1wbGUifQ." + "c2lnbmF0dXJlLW9mLXBlZWwtZXhhbXBsZQ"
	return map[string][]Example{
		"aws-access-token": {
			file("/app/deploy.sh", "#!/bin/sh\nexport AWS_ACCESS_KEY_ID="+aws+"\n", at(2, "", aws)),
			file("/app/deploy.sh", "#!/bin/sh\nexport AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID}\n"),
		},
		"github-pat": {
			// The config rule and gitleaks' hit the same bytes: one
			// finding, of the rule that knows the token's issuer.
			file("/app/application.properties", "github.token="+ghp+"\n", at(1, "github.token", ghp)),
			file("/app/application.properties", "github.token=${GITHUB_TOKEN}\n"),
		},
		"generic-api-key": {
			file("/app/conf/app.conf", "client_secret = \"Q3v9X2kP7mL4tR8wZ6nB1cY5\"\n", at(1, "", "Q3v9X2kP7mL4tR8wZ6nB1cY5")),
			// In documentation, placeholders and entropy-only hits are
			// dismissed.
			file("/usr/share/doc/app/README.md", "Set `DB_PASSWORD=changeme` or use postgres://app:changeme@db/app\n"),
			file("/opt/app/NOTES.md", "DB_PASSWORD=Zq8-unique-pw\n"),
			file("/usr/share/man/man1/openssl-sess_id.1ssl.gz!openssl-sess_id.1ssl", "\\&    Session\\-ID: A7CEFC571974BE02CAC305269DC59F76EA9F0B180CB6642697A68251F2D2BB57\n \\&    Master\\-Key: 9F0B180CB6642697A68251F2D2BB57E51DBBB4C7885573192AE9AEE220FACD\n"),
			// Names in code and configuration are no secrets: the JDK's
			// security properties, constants of Python libraries.
			file("/etc/java-17-openjdk/security/java.security", "jdk.tls.keyLimits=AES/GCM/NoPadding KeyUpdate 2^37, \\\n      ChaCha20-Poly1305 KeyUpdate 2^37\n"),
			file("/usr/lib/python3/dist-packages/oauth2client/service_account.py", "_PKCS12_KEY = '_private_key_pkcs12'\nPASSWD_MIN = argon2id.PASSWD_MIN\nif auth_type == 'v4-unsigned-body':\n"),
			file("/app/src/Plugin.py", "        is_mixin_scan=True,\n        passive=attributes.PASSIVE_OFF,\n"),
			// Published values: RFC 6749's example access token, the example
			// of Jetty's openid module, docstrings' examples of a dependency.
			file("/app/src/oauth.py", "    Location: http://example.com/cb#access_token=2YotnFZFEjr1zCsicMWpAA\n"),
			file("/usr/share/jetty9/modules/openid.mod", "[ini-template]\n# jetty.openid.clientSecret=XT_Mafv_aUCGheuCaKY8P\n"),
			file("/usr/lib/python3/dist-packages/requests_oauthlib/oauth1_session.py", "    \"\"\"Request signing.\n\n    >>> oauth_session.fetch_access_token(access_token_url)\n    {\n        'oauth_token_secret': '2kjshdfp92i34asdasd',\n    }\n    \"\"\"\n"),
			// The same value in the application's own code is reported.
			file("/app/src/client.py", "oauth_token_secret = '2kjshdfp92i34asdasd'\n", at(1, "", "2kjshdfp92i34asdasd")),
			// Hex test vectors of Go's source tree, as its test resources.
			file("/usr/share/go-1.19/src/crypto/x509/pkcs8_test.go", "var pkcs8P224PrivateKeyHex = `3078020100301006072a8648ce3d020106052b810400210461305f020101041cca3d72b3e88fed2684576dad9b80a9180363a5424986900e3abcab3f`\n"),
		},
		"gcp-api-key": {
			file("/app/src/config.py", "MAPS_API_KEY = '"+gcp+"'\n", at(1, "", gcp)),
			// The Google Cloud SDK's error-reporting key, in every copy of it.
			file("/usr/lib/google-cloud-sdk/lib/googlecloudsdk/command_lib/crash_handling.py", "ERROR_REPORTING_PARAM = '"+gcloudKey+"'\n"),
		},
		"private-key": {
			// A service account key in JSON: the PEM block as a string with
			// escaped line breaks.
			file("/app/secrets/sa.json", `{"type": "service_account", "private_key": "`+escapedPEM+`"}`, at(1, "", strings.TrimSuffix(escapedPEM, `\n`))),
			file("/app/src/keys.go", "var key = `"+strings.TrimSpace(string(examplePEM("go-literal")))+"`\n", at(1, "", strings.TrimSpace(string(examplePEM("go-literal"))))),
			// Markers that key parsers look for, and examples over XXXX.
			file("/usr/lib/python3/dist-packages/google/auth/crypt/_python_rsa.py", "_PKCS1_MARKER = ('-----BEGIN RSA PRIVATE KEY-----',\n                 '-----END RSA PRIVATE KEY-----')\n_PKCS8_MARKER = ('-----BEGIN PRIVATE KEY-----',\n                 '-----END PRIVATE KEY-----')\n"),
			file("/usr/share/rubygems-integration/all/gems/net-ssh-7.0.1/lib/net/ssh/key_factory.rb", "          if data.match(/-----BEGIN OPENSSH PRIVATE KEY-----/)\n            Net::SSH::Authentication::ED25519Loader.raiseUnlessLoaded(\"OpenSSH keys only supported if ED25519 is available\")\n            return OpenSSHKeyType\n          elsif data.match(/-----BEGIN RSA PRIVATE KEY-----/)\n"),
			file("/app/src/usercertinmem.c", "  const char *mykey =\n    \"-----BEGIN RSA PRIVATE KEY-----\\n\"\\\n"+strings.Repeat("    \"XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX\\n\"\\\n", 4)+"    \"-----END RSA PRIVATE KEY-----\\n\";\n"),
		},
		"jwt": {
			file("/app/config/client.env.sh", "export SESSION="+jwt+"\n", at(1, "", jwt)),
			// Documentation's sample tokens, a gzipped README among them.
			file("/usr/share/doc/ruby-jwt/README.md.gz!README.md", "# eyJhbGciOiJIUzI1NiJ9.eyJkYXRhIjoidGVzdCJ9.pNIWIL34Jo13LViZAJACzK6Yf0qnvT_BuwOxiMCPE-Y\n"),
			file("/usr/lib/python3/dist-packages/PyJWT-2.6.0.egg-info/PKG-INFO", "    >>> encoded = jwt.encode({\"some\": \"payload\"}, \"secret\", algorithm=\"HS256\")\n    >>> print(encoded)\n    "+jwt+"\n"),
		},
		"curl-auth-user": {
			file("/usr/share/man/man1/curl.1.gz!curl.1", ".nf\ncurl -u \"key:secret\" https://example.com\n.fi\n"),
		},
	}
}

func (d *gitleaksDetector) Info() Info { return Info{Name: "gitleaks", Version: 2, Rules: d.rules} }

func (d *gitleaksDetector) Applies([]string) bool { return true }

func (d *gitleaksDetector) Detect(f *File, c *Collector) { d.scan(f.Name(), f.Data, c) }

func (d *gitleaksDetector) DetectCommand(cmd Command, c *Collector) { d.scan("", []byte(cmd.Line), c) }

func (d *gitleaksDetector) DetectAssignment(key, value string, c *Collector) {
	d.scan("", []byte(key+"="+value), c)
}

func (d *gitleaksDetector) scan(name string, data []byte, c *Collector) {
	for _, f := range d.gl.Scan(name, data, nil) {
		r := d.byID[f.RuleID]
		if why := notGitleaksSecret(f.RuleID, r, f.Secret); why != "" {
			c.Dismiss(r.ID, f.Line, "", why)
			continue
		}
		c.Add(Finding{RuleID: r.ID, Severity: r.Severity, Line: f.Line, Secret: f.Secret})
	}
}

// notGitleaksSecret puts gitleaks' findings through the checks peel's own
// rules make, and says why one is no secret, or "": gitleaks' private-key
// rule matches a PEM header, anything and a footer, so what it matched
// must parse as peel's private-key rule requires (markers in key parsers'
// code, headers over XXXX are no key); its generic rule matches names in
// code (AES/GCM/NoPadding, self._private_key_pkcs12, is_mixin_scan=True);
// and a provider rule's match that is a name (a Looker rule on
// ModifyInstanceBackupName) is no token in its live format.
func notGitleaksSecret(id string, r Rule, secret string) string {
	switch {
	case id == "private-key":
		if !pemKeyIn(secret) {
			return "PEM header without a key that parses (a marker in code, or an example)"
		}
	case r.Specificity == SpecificityEntropy:
		if isIdentifier(secret, true) {
			return "an identifier in code, not a secret"
		}
	case r.Specificity == SpecificityIssuer && !exampleRules[r.ID] && !strings.Contains(secret, ":"):
		if isIdentifier(secret, false) {
			return "an identifier, not a token in its issuer's format"
		}
	}
	return ""
}
