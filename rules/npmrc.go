package rules

import (
	"encoding/base64"
	"strings"

	"github.com/peelscan/peel/rules/internal/textscan"
)

// RuleNpmrcAuth is the rule of npm registry credentials in an .npmrc.
const RuleNpmrcAuth = "npmrc-auth"

var npmrcAuth = Rule{
	ID:          RuleNpmrcAuth,
	Title:       "npm registry credentials in an .npmrc",
	Description: "An .npmrc in the image holds an npm registry credential (_authToken, _auth as base64 of user:password, _password as base64): whoever pulls the image can read, and often publish, packages as that user.",
	Remediation: "Keep .npmrc out of the image: give it to the build as a BuildKit secret (RUN --mount=type=secret,id=npmrc,target=/root/.npmrc npm ci) or write _authToken=${NPM_TOKEN} and set the variable at run time; then revoke the token (npm token revoke).",
	Severity:    SeverityHigh,
	Kind:        KindToken,
	Specificity: SpecificityIssuer,
}

// npmrc reads npm's configuration files (.npmrc, a global or built-in
// npmrc, yarn 1's .yarnrc in npm's syntax): KEY=VALUE lines in npm's ini
// dialect, keys scoped to a registry written //HOST/PATH/:KEY. Its auth
// fields are npmrc-auth findings; any other secret-named key is read as a
// setting (config-secret).
type npmrc struct{}

func (npmrc) Info() Info {
	const f = "/home/node/.npmrc"
	auth := base64.StdEncoding.EncodeToString([]byte("ci-bot:npm-basic-pw-1"))
	noPassword := base64.StdEncoding.EncodeToString([]byte("ci-bot"))
	password := base64.StdEncoding.EncodeToString([]byte("npm-pw-1"))
	live := "npm_" + "Pe3lTestT0kenR4nd0m" + strings.Repeat("Q", 17) // npm's token format, built here
	return Info{Name: "npmrc", Version: 1, Format: true, Rules: []Rule{
		npmrcAuth.with(
			file(f, "registry=https://registry.npmjs.org/\n//registry.npmjs.org/:_authToken=npm-peel-fake-token-1\n",
				at(2, "//registry.npmjs.org/:_authToken", "npm-peel-fake-token-1")),
			file(f, "//registry.npmjs.org/:_authToken=${NPM_TOKEN}\n"),
			file(f, "; legacy basic auth\n_auth = "+auth+"\nalways-auth = true\n", at(2, "_auth", auth)),
			file(f, "_auth="+noPassword+"\n"),
			file(f, "_auth=not base64 at all\n"),
			file("/usr/local/etc/npmrc", "//npm.example.com/:username=ci\n//npm.example.com/:_password=\""+password+"\"\n",
				at(2, "//npm.example.com/:_password", password)),
			file(f, "@acme:registry=https://npm.example.com/\nemail=dev@example.com\n//npm.example.com/:certfile=/etc/npm/client.pem\n"),
			// A token in npm's live format: gitleaks' provider rule
			// knows it as well and is the more severe.
			file(f, "//registry.npmjs.org/:_authToken="+live+"\n",
				at(1, "//registry.npmjs.org/:_authToken", live).of("gitleaks.npm-access-token")),
		),
		configSecret.with(
			// node-pre-gyp reads its S3 credentials from npm's config.
			file(f, "node_pre_gyp_accessKeyId=AKIDEXAMPLEPEEL\nnode_pre_gyp_secretAccessKey=npmrc-s3-secret-1\n",
				at(2, "node_pre_gyp_secretAccessKey", "npmrc-s3-secret-1")),
			file(f, "node_pre_gyp_secretAccessKey=${S3_SECRET}\n"),
		),
	}}
}

func (npmrc) Applies(path []string) bool {
	return isName(fileName(path), ".npmrc", "npmrc", ".yarnrc")
}

func (npmrc) Detect(f *File, c *Collector) {
	textscan.ForEachLine(f.Data, func(line []byte, n int) {
		s := strings.TrimSpace(string(line))
		if s == "" || s[0] == '#' || s[0] == ';' || s[0] == '[' {
			return
		}
		key, value, ok := strings.Cut(s, "=")
		if !ok {
			return
		}
		key, value = strings.TrimSpace(key), unquote(strings.TrimSpace(value))
		field := key
		if strings.HasPrefix(key, "//") {
			field = key[strings.LastIndexByte(key, ':')+1:] // //registry.npmjs.org/:_authToken
		}
		switch field {
		case "_authToken", "_auth", "_password":
			npmAuth(key, field, value, n, c)
		default:
			c.KeyValue(RuleConfigSecret, key, value, n)
		}
	})
}

// npmAuth judges one of npm's auth fields: a token, base64 of
// user:password, or base64 of a password. The finding's secret is the
// value as written, as a reader of the file (and gitleaks) sees it.
func npmAuth(key, field, value string, line int, c *Collector) {
	if _, _, ok, reason := ClassifyValue(value); !ok {
		c.Dismiss(RuleNpmrcAuth, line, key, reason)
		return
	}
	if field == "_auth" {
		raw, err := base64.StdEncoding.DecodeString(value)
		if err != nil {
			c.Dismiss(RuleNpmrcAuth, line, key, "not base64 (npm sends _auth as the base64 of user:password)")
			return
		}
		if _, pw, ok := strings.Cut(string(raw), ":"); !ok || pw == "" {
			c.Dismiss(RuleNpmrcAuth, line, key, "no password in _auth")
			return
		}
	}
	c.Add(newFinding(RuleNpmrcAuth, line, key, strings.TrimSpace(value)))
}
