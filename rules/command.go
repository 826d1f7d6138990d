package rules

import (
	"regexp"
	"strings"
)

// RuleBuildSecret is the rule of secrets in build steps.
const RuleBuildSecret = "build-secret"

var buildSecret = Rule{
	ID:          RuleBuildSecret,
	Title:       "Secret in a build step",
	Description: "A build argument or a command line in the image history carries a secret; docker history shows it to anyone who pulls the image.",
	Remediation: "Use BuildKit secrets (RUN --mount=type=secret) instead of build arguments or command-line passwords; then rotate.",
	Severity:    SeverityHigh,
	Kind:        KindPassword,
	Specificity: SpecificityKeyName,
}

// buildCommands reads command lines: build steps (build arguments, ARG
// defaults, credentials on command lines) and the image's entrypoint,
// whose findings are the image config's. It reads no files.
type buildCommands struct{}

func (buildCommands) Info() Info {
	return Info{Name: "command", Version: 1, Rules: []Rule{
		buildSecret.with(
			command("|2 NPM_TOKEN=npm-build-arg-1 VERSION=1.2 /bin/sh -c npm ci", at(1, "NPM_TOKEN", "npm-build-arg-1")),
			command("/bin/sh -c #(nop)  ARG DB_PASSWORD=arg-default-pw", at(1, "DB_PASSWORD", "arg-default-pw")),
			command("/bin/sh -c mysql -uroot -pmysql-cli-pw < schema.sql", at(1, "mysql -p", "mysql-cli-pw")),
			// gitleaks' curl rule knows more than peel's and wins the tie.
			command("/bin/sh -c curl -u deploy:curl-cli-pw https://repo/x.tgz | tar xz", at(1, "curl -u deploy", "deploy:curl-cli-pw").of("gitleaks.curl-auth-user")),
			command("/bin/sh -c app init --admin-password 'flag-cli-pw' --db-token=$TOKEN", at(1, "--admin-password", "flag-cli-pw")),
			command("/bin/sh -c #(nop)  ENV DB_PASSWORD=env-in-history"),
			command("java -Dspring.datasource.password=sysprop-pw -Dserver.port=8443 -jar app.jar", at(1, "spring.datasource.password", "sysprop-pw")),
			command("/bin/sh -c apk add --no-cache openjdk8"),
			command("|1 TOKEN= /bin/sh -c make"),
		),
		imageConfigSecret.with(
			entrypoint("java -Dspring.datasource.password=entrypoint-pw -jar /app.jar", at(1, "spring.datasource.password", "entrypoint-pw")),
			entrypoint("java -Dspring.datasource.password=${DB_PASSWORD} -jar /app.jar"),
			entrypoint("/app/run --api-token=entry-token-1", at(1, "--api-token", "entry-token-1")),
		),
	}}
}

func (buildCommands) Applies([]string) bool { return false }

func (buildCommands) Detect(*File, *Collector) {}

func (buildCommands) DetectCommand(cmd Command, c *Collector) {
	rule := RuleBuildSecret
	if cmd.Entrypoint {
		rule = RuleImageConfigSecret
	}
	scanCommand(cmd.Line, rule, c)
}

var (
	buildArgs   = regexp.MustCompile(`^\|\d+ (.*?) (?:/bin/sh -c|/bin/bash -c|RUN )`)
	nopArg      = regexp.MustCompile(`#\(nop\)\s+ARG\s+([A-Za-z_][A-Za-z0-9_]*)=(\S+)`)
	flagSecret  = regexp.MustCompile(`(?i)\s--?([a-z][a-z0-9\-]*(?:password|passwd|passphrase|token|secret|api-?key))(?:=|\s+)('[^']*'|"[^"]*"|[^\s;&|'"]+)`)
	mysqlPass   = regexp.MustCompile(`\bmysql(?:admin|dump)?\b[^;&|\n]*?\s-p([^\s;&|'"]+)`)
	sysProp     = regexp.MustCompile(`(?:^|\s)-D([A-Za-z0-9_.\-]+)=('[^']*'|"[^"]*"|\S+)`)
	curlUser    = regexp.MustCompile(`\bcurl\b[^;&|\n]*?\s(?:-u|--user)\s+['"]?([^\s:'"]+):([^\s;&|'"]+)`)
	buildArgKey = regexp.MustCompile(`([A-Za-z_][A-Za-z0-9_]*)=(\S*)`)
)

// scanCommand reads one build step as the image history records it: build
// arguments ("|2 NPM_TOKEN=… /bin/sh -c npm ci"), ARG defaults, and
// credentials on command lines (--password …, mysql -p…, curl -u user:pw).
func scanCommand(cmd, rule string, c *Collector) {
	if m := buildArgs.FindStringSubmatch(cmd); m != nil {
		for _, kv := range buildArgKey.FindAllStringSubmatch(m[1], -1) {
			c.KeyValue(rule, kv[1], kv[2], 1)
		}
	}
	for _, m := range nopArg.FindAllStringSubmatch(cmd, -1) {
		c.KeyValue(rule, m[1], m[2], 1)
	}
	if strings.Contains(cmd, "#(nop)") {
		return // ENV, LABEL and friends: the image config holds them
	}
	for _, m := range flagSecret.FindAllStringSubmatch(cmd, -1) {
		commandFinding("--"+m[1], m[2], rule, c)
	}
	for _, m := range sysProp.FindAllStringSubmatch(cmd, -1) {
		c.KeyValue(rule, m[1], unquote(m[2]), 1)
	}
	for _, m := range mysqlPass.FindAllStringSubmatch(cmd, -1) {
		commandFinding("mysql -p", m[1], rule, c)
	}
	for _, m := range curlUser.FindAllStringSubmatch(cmd, -1) {
		commandFinding("curl -u "+m[1], m[2], rule, c)
	}
}

func commandFinding(key, value, rule string, c *Collector) {
	value = unquote(value)
	if strings.HasPrefix(value, "$") {
		c.Dismiss(rule, 1, key, "variable reference")
		return
	}
	if _, _, ok, reason := ClassifyValue(value); !ok {
		c.Dismiss(rule, 1, key, reason)
		return
	}
	c.Add(newFinding(rule, 1, key, value))
}
