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
	RuleURLCredentials      = "url-credentials"
	RuleDockerConfigAuth    = "docker-config-auth"
	RuleImageConfigSecret   = "image-config-secret"
	RuleBuildSecret         = "build-secret"
	RulePrivateKey          = "private-key"
	RulePrivateKeyEncrypted = "private-key-encrypted"
	RuleContentTrustKey     = "content-trust-key"
)

const rotate = "Remove it from the image (and from every earlier layer: a later deletion does not erase it), provide it at run time as a mounted secret or an environment variable set at docker run, and revoke it."

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
	RuleURLCredentials: {
		ID:          RuleURLCredentials,
		Title:       "Credentials in a URL",
		Description: "A URL carries a user name and password (scheme://user:password@host, a JDBC password parameter, a .git-credentials line). Anyone who pulls the image can read it.",
		Remediation: "Keep the URL without credentials and pass them separately at run time (environment, mounted secret); then rotate the password.",
		Severity:    SeverityHigh,
	},
	RuleDockerConfigAuth: {
		ID:          RuleDockerConfigAuth,
		Title:       "Registry credentials in a Docker config.json",
		Description: "A Docker client config (config.json auths) in the image holds a registry user's password or token: whoever pulls the image can push as that user.",
		Remediation: "Do not copy ~/.docker/config.json into images; log in at run time or use a credential helper; revoke the token.",
		Severity:    SeverityHigh,
	},
	RuleImageConfigSecret: {
		ID:          RuleImageConfigSecret,
		Title:       "Secret in the image configuration (ENV or LABEL)",
		Description: "An ENV or LABEL instruction baked a secret into the image configuration, which docker inspect shows to anyone who pulls the image.",
		Remediation: "Do not set secrets with ENV or LABEL; pass them at run time (docker run -e, an env file, a mounted secret); then rotate.",
		Severity:    SeverityHigh,
	},
	RuleBuildSecret: {
		ID:          RuleBuildSecret,
		Title:       "Secret in a build step",
		Description: "A build argument or a command line in the image history carries a secret; docker history shows it to anyone who pulls the image.",
		Remediation: "Use BuildKit secrets (RUN --mount=type=secret) instead of build arguments or command-line passwords; then rotate.",
		Severity:    SeverityHigh,
	},
	RulePrivateKey: {
		ID:          RulePrivateKey,
		Title:       "Unencrypted private key",
		Description: "A private key (PEM, OpenSSH, PuTTY or PGP) that needs no passphrase is in the image: whoever pulls the image holds the key.",
		Remediation: "Remove the key from the image and mount it at run time; revoke the key and issue a new one.",
		Severity:    SeverityCritical,
	},
	RulePrivateKeyEncrypted: {
		ID:          RulePrivateKeyEncrypted,
		Title:       "Encrypted private key",
		Description: "A passphrase-protected private key is in the image. The passphrase can be guessed offline, and is often found beside it.",
		Remediation: "Remove the key from the image and mount it at run time; consider it exposed.",
		Severity:    SeverityMedium,
	},
	RuleContentTrustKey: {
		ID:          RuleContentTrustKey,
		Title:       "Docker Content Trust signing key",
		Description: "A Docker Content Trust (Notary) private key is in the image: whoever holds the root or a delegation key can sign images as the publisher.",
		Remediation: "Keep trust keys offline (root) or in a secret store; remove them from the image and rotate the affected roles (docker trust key rotate).",
		Severity:    SeverityHigh,
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
