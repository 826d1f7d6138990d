package rules

import (
	"strings"

	"github.com/peelscan/peel/rules/internal/textscan"
)

// keyValue reads KEY=VALUE files: .env, INI (~/.aws/credentials, .pypirc,
// my.cnf, .s3cfg). (.npmrc has a detector of its own.)
type keyValue struct{}

func (keyValue) Info() Info {
	return Info{Name: "keyvalue", Version: 2, Format: true, Rules: []Rule{
		configSecret.with(
			file("/app/.env", "# comment\nexport DB_PASSWORD=s3cure-env-pw\nAPI_TOKEN=\"quoted-token-1\"\n",
				at(2, "DB_PASSWORD", "s3cure-env-pw"), at(3, "API_TOKEN", "quoted-token-1")),
			file("/app/.env", "DB_PASSWORD=\nDB_PASSWORD=${DB_PASSWORD}\nTOKEN_TTL=3600\nDB_USER=app\n"),
			file("/root/.aws/credentials", "[default]\naws_access_key_id = AKIDEXAMPLEPEEL\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYPEELKEY\n",
				at(3, "aws_secret_access_key", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYPEELKEY")),
			file("/etc/mysql/my.cnf", "[client]\n; password = commented-out\nuser = app\n"),
			// Spring's relaxed names, JVM options and SPRING_APPLICATION_JSON.
			file("/app/.env", "SPRING_DATASOURCE_PASSWORD=relaxed-env-pw\nJAVA_OPTS=\"-Xmx1g -Dspring.datasource.password=env-opts-pw\"\n"+
				"CATALINA_OPTS=-Djavax.net.ssl.keyStorePassword=env-catalina-pw\nSPRING_APPLICATION_JSON='{\"spring.mail.password\":\"env-json-pw\"}'\n",
				at(1, "SPRING_DATASOURCE_PASSWORD", "relaxed-env-pw"), at(2, "spring.datasource.password", "env-opts-pw"),
				at(3, "javax.net.ssl.keyStorePassword", "env-catalina-pw"), at(4, "spring.mail.password", "env-json-pw")),
			file("/app/.env", "JAVA_OPTS=-Dspring.datasource.password=${DB_PASSWORD} -Xmx1g\nJAVA_TOOL_OPTIONS=-Dfile.encoding=UTF-8 -Dapp.token=$APP_TOKEN\n"+
				"SPRING_APPLICATION_JSON={\"server\":{\"port\":8080},\"spring\":{\"datasource\":{\"password\":\"${DB_PASSWORD}\"}}}\nNODE_OPTIONS=--max-old-space-size=4096\n"),
		),
		configSecretDefault.with(
			file("/app/.env.production", "DB_PASSWORD=${DB_PW:env-default-1}\n", at(1, "DB_PASSWORD", "env-default-1")),
			file("/app/.env.production", "DB_PASSWORD=${DB_PW}\n"),
		),
	}}
}

func (keyValue) Applies(path []string) bool {
	b := fileName(path)
	return isName(b, ".env", ".pypirc", ".s3cfg", ".my.cnf") || hasPrefixFold(b, ".env.") || hasSuffixFold(b, ".env") ||
		hasSuffixFold(b, ".ini") || hasSuffixFold(b, ".cnf") ||
		isName(b, "credentials", "config") && hasSuffixFold(dirName(path), ".aws")
}

func (keyValue) Detect(f *File, c *Collector) { scanKeyValueLines(f.Data, c) }

// scanKeyValueLines reads .env and INI files (~/.aws/credentials, .pypirc,
// my.cnf): KEY=VALUE or KEY = VALUE lines, "[section]" headers
// and "#" or ";" comments.
func scanKeyValueLines(data []byte, c *Collector) {
	textscan.ForEachLine(data, func(line []byte, n int) {
		s := strings.TrimSpace(string(line))
		if s == "" || s[0] == '#' || s[0] == ';' || s[0] == '[' {
			return
		}
		i := strings.IndexByte(s, '=')
		if i <= 0 {
			return
		}
		key := strings.TrimSpace(strings.TrimPrefix(s[:i], "export "))
		value := unquote(strings.TrimSpace(s[i+1:]))
		setting(c, RuleConfigSecret, key, value, n)
	})
}
