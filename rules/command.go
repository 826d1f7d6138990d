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
	return Info{Name: "command", Version: 2, Rules: []Rule{
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
			// Spring Boot's command-line properties, JVM options.
			command("/bin/sh -c java -jar /app.jar --spring.datasource.password=hist-arg-pw --server.port=8443", at(1, "spring.datasource.password", "hist-arg-pw")),
			command(`/bin/sh -c JAVA_OPTS="-Xmx1g -Dspring.datasource.password=hist-opts-pw" ./gradlew test`, at(1, "spring.datasource.password", "hist-opts-pw")),
			command("|1 JAVA_OPTS=-Dapp.api-token=build-arg-opts /bin/sh -c ./build.sh", at(1, "app.api-token", "build-arg-opts")),
			command("/bin/sh -c java -Dspring.datasource.password=$DB_PASSWORD -jar /app.jar --spring.profiles.active=prod"),
		),
		imageConfigSecret.with(
			entrypoint("java -Dspring.datasource.password=entrypoint-pw -jar /app.jar", at(1, "spring.datasource.password", "entrypoint-pw")),
			entrypoint("java -Dspring.datasource.password=${DB_PASSWORD} -jar /app.jar"),
			entrypoint("/app/run --api-token=entry-token-1", at(1, "--api-token", "entry-token-1")),
			entrypoint("java -jar /app.jar --spring.datasource.password=entry-arg-pw", at(1, "spring.datasource.password", "entry-arg-pw")),
			entrypoint(`java -Dspring.application.json={"spring":{"datasource":{"password":"entry-json-pw"}}} -jar /app.jar`, at(1, "spring.datasource.password", "entry-json-pw")),
			entrypoint("java -jar /app.jar --spring.datasource.password=${DB_PASSWORD} --spring.config.location=/run/config/"),
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
	buildArgs = regexp.MustCompile(`^\|\d+ (.*?) (?:/bin/sh -c|/bin/bash -c|RUN )`)
	nopArg    = regexp.MustCompile(`#\(nop\)\s+ARG\s+([A-Za-z_][A-Za-z0-9_]*)=(\S+)`)
	// An argument starts a command line or a JVM options value, or follows
	// a blank, a quote (JAVA_OPTS="-D…") or an '=' (export JAVA_OPTS=-D…).
	flagSecret = regexp.MustCompile(`(?i)(?:^|[\s"'])--?([a-z][a-z0-9_\-]*(?:password|passwd|passphrase|token|secret|api-?key))(?:=|\s+)('[^']*'|"[^"]*"|[^\s;&|'"]+)`)
	// springArg is a Spring Boot command-line property, --name=value with
	// a dotted name: --spring.datasource.password=….
	springArg   = regexp.MustCompile(`(?:^|[\s"'])--([A-Za-z][A-Za-z0-9_\-]*(?:\.[A-Za-z0-9_\-\[\]]+)+)=('[^']*'|"[^"]*"|\S+)`)
	sysProp     = regexp.MustCompile(`(?:^|[\s"'=])-D([A-Za-z0-9_.\-]+)=('[^']*'|"[^"]*"|\S+)`)
	mysqlPass   = regexp.MustCompile(`\bmysql(?:admin|dump)?\b[^;&|\n]*?\s-p([^\s;&|'"]+)`)
	curlUser    = regexp.MustCompile(`\bcurl\b[^;&|\n]*?\s(?:-u|--user)\s+['"]?([^\s:'"]+):([^\s;&|'"]+)`)
	buildArgKey = regexp.MustCompile(`([A-Za-z_][A-Za-z0-9_]*)=(\S*)`)
)

// scanCommand reads one build step as the image history records it: build
// arguments ("|2 NPM_TOKEN=… /bin/sh -c npm ci"), ARG defaults, and
// credentials on command lines (--password …, -Dkey=value,
// --spring.datasource.password=…, mysql -p…, curl -u user:pw).
func scanCommand(cmd, rule string, c *Collector) {
	if m := buildArgs.FindStringSubmatch(cmd); m != nil {
		for _, kv := range buildArgKey.FindAllStringSubmatch(m[1], -1) {
			setting(c, rule, kv[1], kv[2], 1)
		}
	}
	for _, m := range nopArg.FindAllStringSubmatch(cmd, -1) {
		setting(c, rule, m[1], m[2], 1)
	}
	if strings.Contains(cmd, "#(nop)") {
		return // ENV, LABEL and friends: the image config holds them
	}
	scanArguments(cmd, rule, 1, c)
	for _, m := range mysqlPass.FindAllStringSubmatch(cmd, -1) {
		commandFinding("mysql -p", m[1], rule, 1, c)
	}
	for _, m := range curlUser.FindAllStringSubmatch(cmd, -1) {
		commandFinding("curl -u "+m[1], m[2], rule, 1, c)
	}
}

// scanArguments reads the arguments of a command line, or of a JVM options
// variable (JAVA_OPTS), at line: secret-named flags (--password …,
// --api-token=…), system properties (-Dkey=value) and Spring Boot's
// command-line properties (--spring.datasource.password=…), the last two
// judged as settings (so -Dspring.application.json=… is read as JSON).
func scanArguments(s, rule string, line int, c *Collector) {
	for _, m := range flagSecret.FindAllStringSubmatch(s, -1) {
		commandFinding("--"+m[1], m[2], rule, line, c)
	}
	for _, re := range []*regexp.Regexp{sysProp, springArg} {
		for _, m := range re.FindAllStringSubmatch(s, -1) {
			value := unquote(trimStrayQuote(m[2]))
			if isVariable(value) {
				c.Dismiss(rule, line, m[1], "variable reference")
				continue
			}
			setting(c, rule, m[1], value, line)
		}
	}
}

// trimStrayQuote drops a quote that ends an unquoted argument without
// having opened in it: the closing quote of JAVA_OPTS="… -Dk=v".
func trimStrayQuote(v string) string {
	if v == "" || v[0] == '"' || v[0] == '\'' {
		return v
	}
	if q := v[len(v)-1]; (q == '"' || q == '\'') && strings.Count(v, string(q))%2 == 1 {
		return v[:len(v)-1]
	}
	return v
}

// isVariable reports a value that is a shell or Docker variable reference,
// $NAME (${NAME} is a placeholder the value rules know).
func isVariable(v string) bool {
	return len(v) > 1 && v[0] == '$' && (v[1] == '_' || v[1] >= 'A' && v[1] <= 'Z' || v[1] >= 'a' && v[1] <= 'z')
}

func commandFinding(key, value, rule string, line int, c *Collector) {
	value = unquote(value)
	if strings.HasPrefix(value, "$") {
		c.Dismiss(rule, line, key, "variable reference")
		return
	}
	if _, _, ok, reason := ClassifyValue(value); !ok {
		c.Dismiss(rule, line, key, reason)
		return
	}
	c.Add(newFinding(rule, line, key, value))
}
