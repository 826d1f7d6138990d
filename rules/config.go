package rules

import (
	"regexp"
	"strings"
	"unicode"
)

// secretSuffixes are the endings of a normalized key segment (lower case,
// no '-' or '_') that name a secret. They follow Spring Boot's sanitizer
// (keys ending in password, secret, key or token, or holding credentials)
// but list the "key" forms that carry key material, so that key-alias,
// key-store (a path) or sort-key stay quiet.
var secretSuffixes = []string{
	"password", "passwd", "pwd", "passphrase",
	"secret", "token", "authtoken", "storepass", "keypass", "keydata",
	"credential", "credentials",
	"apikey", "accesskey", "secretkey", "privatekey", "signingkey", "encryptionkey", "masterkey",
}

// secretWords are the words whose presence in a value marks it as a
// human-readable label (password.prompt=Enter your password) rather than
// a secret.
var secretWords = []string{"password", "passwort", "passwd", "secret", "token", "credential", "passphrase", "key"}

// IsSecretKey reports whether a configuration key (dotted, as Spring writes
// it: spring.datasource.password, server.ssl.key-store-password) names a
// secret.
func IsSecretKey(key string) bool {
	seg := key
	if i := strings.LastIndexAny(seg, ".:/"); i >= 0 {
		seg = seg[i+1:]
	}
	if i := strings.IndexByte(seg, '['); i >= 0 {
		seg = seg[:i]
	}
	norm := normalizeKey(seg)
	if norm == "pass" {
		return true
	}
	for _, s := range secretSuffixes {
		if strings.HasSuffix(norm, s) {
			return true
		}
	}
	return false
}

func normalizeKey(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		if r == '-' || r == '_' {
			continue
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

// valueKind says how a config value holds (or does not hold) a secret.
type valueKind int

const (
	valueNotSecret valueKind = iota
	valueLiteral             // the value is the secret
	valueDefault             // ${VAR:default}: the default is the secret
)

// ClassifyValue decides whether the value of a key that names a password
// is a secret. It returns the secret (the value, or a placeholder's literal
// default) and the rule that applies, or ok=false with the reason it is not
// a secret: empty, placeholder, encrypted, a label or a reference.
func ClassifyValue(value string) (secret, ruleID string, ok bool, reason string) {
	return classifyAs(value, chosenSecret)
}

// ClassifyKeyValue is ClassifyValue for the value of a secret-named key:
// a key that names a token, a key or credentials takes only a value with a
// credential's shape (secretKindOf).
func ClassifyKeyValue(key, value string) (secret, ruleID string, ok bool, reason string) {
	return classifyAs(value, secretKindOf(key))
}

func classifyAs(value string, sk secretKind) (secret, ruleID string, ok bool, reason string) {
	s, kind, why := classifyValue(value, sk)
	switch kind {
	case valueLiteral:
		return s, RuleConfigSecret, true, ""
	case valueDefault:
		return s, RuleConfigSecretDefault, true, ""
	}
	return "", "", false, why
}

func classifyValue(value string, sk secretKind) (string, valueKind, string) {
	v := strings.TrimSpace(value)
	if len(v) >= 2 && (v[0] == '"' && v[len(v)-1] == '"' || v[0] == '\'' && v[len(v)-1] == '\'') {
		v = strings.TrimSpace(v[1 : len(v)-1])
	}
	if v == "" {
		return "", valueNotSecret, "empty"
	}
	if strings.Contains(v, "${") {
		def, ok := placeholderDefault(v)
		if !ok {
			return "", valueNotSecret, "placeholder"
		}
		// The default may itself be a placeholder, encrypted or empty.
		s, kind, why := classifyValue(def, sk)
		if kind == valueNotSecret {
			return "", valueNotSecret, "placeholder with " + why + " default"
		}
		return s, valueDefault, ""
	}
	lower := strings.ToLower(v)
	switch {
	case strings.HasPrefix(v, "ENC(") && strings.HasSuffix(v, ")"):
		return "", valueNotSecret, "encrypted (ENC)"
	case strings.HasPrefix(lower, "{cipher}"):
		return "", valueNotSecret, "encrypted ({cipher})"
	case len(v) > 2 && v[0] == '@' && v[len(v)-1] == '@' && !strings.ContainsAny(v[1:len(v)-1], "@ "):
		return "", valueNotSecret, "build placeholder (@...@)"
	case strings.HasPrefix(v, "#{") || strings.HasPrefix(v, "{{"):
		return "", valueNotSecret, "expression or template"
	case len(v) > 2 && v[0] == '<' && v[len(v)-1] == '>':
		return "", valueNotSecret, "documentation placeholder"
	case strings.HasPrefix(lower, "classpath:") || strings.HasPrefix(lower, "file:") || isKeyFilePath(v):
		return "", valueNotSecret, "reference to a file"
	case len(v) > 2 && v[0] == '{' && v[len(v)-1] == '}' && isBase64(v[1:len(v)-1]):
		return "", valueNotSecret, "encrypted ({…}, as Maven writes it)"
	case className.MatchString(v):
		return "", valueNotSecret, "class name"
	}
	switch lower {
	case "true", "false", "null", "none", "nil", "~":
		return "", valueNotSecret, "not a secret value"
	}
	if strings.Trim(v, "*xX•") == "" {
		return "", valueNotSecret, "masked"
	}
	if strings.Contains(v, "-----BEGIN ") && strings.Contains(v, "PRIVATE KEY") {
		return "", valueNotSecret, "private key material: the private key rules judge it"
	}
	if isLabel(v, lower) {
		return "", valueNotSecret, "label"
	}
	if (strings.HasPrefix(lower, "http://") || strings.HasPrefix(lower, "https://")) && !hasUserinfo(v) {
		return "", valueNotSecret, "URL"
	}
	if why := standIn(v); why != "" {
		return "", valueNotSecret, why
	}
	if sk == issuedSecret {
		if why := notCredential(v); why != "" {
			return "", valueNotSecret, why
		}
	}
	return v, valueLiteral, ""
}

// placeholderDefault returns the literal default of a value that is one
// placeholder with a default, "${NAME:default}". It also accepts values that
// join several placeholders, and reports the first literal default found.
func placeholderDefault(v string) (string, bool) {
	for len(v) > 0 {
		i := strings.Index(v, "${")
		if i < 0 {
			return "", false
		}
		end := matchBrace(v, i+1)
		if end < 0 {
			return "", false
		}
		inner := v[i+2 : end]
		if c := strings.IndexByte(inner, ':'); c >= 0 {
			return inner[c+1:], true
		}
		v = v[end+1:]
	}
	return "", false
}

// matchBrace returns the index of the '}' closing the '{' at open.
func matchBrace(s string, open int) int {
	depth := 0
	for i := open; i < len(s); i++ {
		switch s[i] {
		case '{':
			depth++
		case '}':
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return -1
}

// isLabel reports values that read as UI text: "Password", "Password:",
// "Enter your password".
func isLabel(v, lower string) bool {
	mentions := false
	for _, w := range secretWords {
		if strings.Contains(lower, w) {
			mentions = true
			break
		}
	}
	if !mentions {
		return false
	}
	if strings.ContainsAny(v, " \t") || strings.HasSuffix(v, ":") {
		return true
	}
	// A capitalized word such as "Password" is a label; "password" may be
	// a (weak) real password and stays a finding.
	r := []rune(v)
	return unicode.IsUpper(r[0]) && strings.ToLower(string(r[1:])) == string(r[1:]) && isLetters(r)
}

func isLetters(r []rune) bool {
	for _, c := range r {
		if !unicode.IsLetter(c) {
			return false
		}
	}
	return true
}

// className matches fully qualified Java class names, which config keys
// such as password-encoder take as values.
var className = regexp.MustCompile(`^(?:[a-z_][a-z0-9_]*\.)+[A-Z][A-Za-z0-9_$]*$`)

// isKeyFilePath reports values that are paths to key or keystore files.
func isKeyFilePath(v string) bool {
	if !(strings.HasPrefix(v, "/") || strings.HasPrefix(v, "~/") || strings.HasPrefix(v, "./") || len(v) > 2 && v[1] == ':' && v[2] == '\\') {
		return false
	}
	lower := strings.ToLower(v)
	for _, ext := range append([]string{".pem", ".key", ".crt", ".der", ".ppk", "id_rsa", "id_ed25519", "id_ecdsa"}, keystoreSuffixes...) {
		if strings.HasSuffix(lower, ext) {
			return true
		}
	}
	return false
}

func isBase64(s string) bool {
	if len(s) < 8 {
		return false
	}
	for _, r := range s {
		if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '+' || r == '/' || r == '=') {
			return false
		}
	}
	return true
}

func hasUserinfo(u string) bool {
	rest := u[strings.Index(u, "//")+2:]
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		rest = rest[:i]
	}
	return strings.Contains(rest, "@")
}

// keystoreSuffixes are the file endings of keystore paths in config values.
var keystoreSuffixes = []string{".jks", ".jceks", ".p12", ".pfx", ".keystore", ".truststore", ".bks"}

// keyRef is a config key whose value names a keystore file.
type keyRef struct{ key, path string }

// keystoreRef returns the keystore path a config value names, if any.
func keystoreRef(value string) (string, bool) {
	v := strings.TrimSpace(value)
	lower := strings.ToLower(v)
	for _, s := range keystoreSuffixes {
		if strings.HasSuffix(lower, s) {
			return v, true
		}
	}
	return "", false
}

// linkRefs attaches to each finding the keystore paths named by keys that
// belong with its key: the same key without its password suffix
// (server.ssl.key-store for server.ssl.key-store-password), else a key with
// the same parent (spring.security.oauth.jwt.keystore.name for
// spring.security.oauth.jwt.keystore.password).
func linkRefs(findings []Finding, refs []keyRef) {
	if len(refs) == 0 {
		return
	}
	// Indexed by key and by parent, so a file of many keys links in linear
	// time.
	byKey := map[string][]string{}
	byParent := map[string][]string{}
	for _, r := range refs {
		byKey[normalizeKey(r.key)] = append(byKey[normalizeKey(r.key)], r.path)
		byParent[parentKey(r.key)] = append(byParent[parentKey(r.key)], r.path)
	}
	for i := range findings {
		f := &findings[i]
		if exact := byKey[normalizeKey(stripSecretSuffix(f.Key))]; len(exact) > 0 {
			f.Refers = append(f.Refers, exact...)
			continue
		}
		f.Refers = append(f.Refers, byParent[parentKey(f.Key)]...)
	}
}

func parentKey(k string) string {
	if i := strings.LastIndexByte(k, '.'); i >= 0 {
		return k[:i]
	}
	return ""
}

func stripSecretSuffix(k string) string {
	lower := strings.ToLower(k)
	for _, s := range []string{"-password", "_password", "password", "-pass", "pass"} {
		if strings.HasSuffix(lower, s) {
			return k[:len(k)-len(s)]
		}
	}
	return k
}

var envKey = regexp.MustCompile(`^(?:export\s+)?([A-Za-z_][A-Za-z0-9_.\-/:@]*)\s*[=:]\s?`)

// envAssignment splits "KEY=value" (or "export KEY=value") as a shell, a
// .env file or a compose environment list writes it.
func envAssignment(s string) (key, value string, ok bool) {
	m := envKey.FindStringSubmatchIndex(s)
	if m == nil || !strings.Contains(s[m[0]:m[1]], "=") {
		return "", "", false
	}
	return s[m[2]:m[3]], unquote(strings.TrimSpace(s[m[1]:])), true
}

func unquote(v string) string {
	if len(v) >= 2 && (v[0] == '"' && v[len(v)-1] == '"' || v[0] == '\'' && v[len(v)-1] == '\'') {
		return v[1 : len(v)-1]
	}
	// An unquoted value ends at a " #" comment.
	if i := strings.Index(v, " #"); i >= 0 {
		return strings.TrimSpace(v[:i])
	}
	return v
}
