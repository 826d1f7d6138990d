package rules

import "sort"

// Rule describes one kind of finding: what it means and how to fix it.
type Rule struct {
	ID          string   // stable identifier, used in reports and ignore files
	Title       string   // one line: what was found
	Description string   // why it matters
	Remediation string   // one line: what to do about it
	Severity    Severity // default severity; verification can raise it
}

// Rule identifiers.
const (
	RuleConfigSecret        = "config-secret"
	RuleConfigSecretDefault = "config-secret-default"
	RuleKeystoreVerified    = "keystore-verified"
	RuleKeystorePrivateKey  = "keystore-private-key"
)

const externalize = "Externalize it as the v2 image does: keep the config file out of the image, point SPRING_CONFIG_LOCATION at a file mounted at run time, write the value as ${VAR} and pass it with docker run -e; then rotate it."

var catalogue = map[string]Rule{
	RuleConfigSecret: {
		ID:          RuleConfigSecret,
		Title:       "Plaintext secret in configuration",
		Description: "A configuration key that names a secret (password, secret, token, credentials, private key, ...) has a literal value. Anyone who pulls the image can read it.",
		Remediation: externalize,
		Severity:    SeverityHigh,
	},
	RuleConfigSecretDefault: {
		ID:          RuleConfigSecretDefault,
		Title:       "Secret baked in as a placeholder default",
		Description: "A placeholder such as ${VAR:fallback} carries a literal default: when the variable is unset the baked-in value is used, and anyone who pulls the image can read it.",
		Remediation: "Drop the default (${VAR} alone) so the value must come from the environment at run time; then rotate it.",
		Severity:    SeverityHigh,
	},
	RuleKeystoreVerified: {
		ID:          RuleKeystoreVerified,
		Title:       "Keystore with private keys opens with a known password",
		Description: "A Java keystore holding private keys is in the image, and a password found in the image (or a well-known default) opens it: anyone who pulls the image holds the keys.",
		Remediation: "Remove the keystore from the image and mount it at run time (docker run --mount); pass its password through the environment; revoke and reissue the keys.",
		Severity:    SeverityCritical,
	},
	RuleKeystorePrivateKey: {
		ID:          RuleKeystorePrivateKey,
		Title:       "Keystore with private keys",
		Description: "A Java keystore holding private keys is in the image. Its password was not found, but keystore passwords are often weak and can be guessed offline.",
		Remediation: "Remove the keystore from the image and mount it at run time (docker run --mount); consider the keys exposed and reissue them.",
		Severity:    SeverityMedium,
	},
}

// Lookup returns the rule with the given ID and whether it exists.
func Lookup(id string) (Rule, bool) {
	r, ok := catalogue[id]
	return r, ok
}

// All returns every rule, sorted by ID.
func All() []Rule {
	out := make([]Rule, 0, len(catalogue))
	for _, r := range catalogue {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}
