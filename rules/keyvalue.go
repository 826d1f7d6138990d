package rules

import (
	"strings"

	"github.com/peelscan/peel/rules/internal/textscan"
)

// keyValue reads KEY=VALUE files: .env, INI (~/.aws/credentials, .pypirc,
// my.cnf, .s3cfg). (.npmrc has a detector of its own.)
type keyValue struct{}

func (keyValue) Info() Info {
	return Info{Name: "keyvalue", Version: 1, Format: true, Rules: []Rule{
		configSecret.with(
			file("/app/.env", "# comment\nexport DB_PASSWORD=s3cure-env-pw\nAPI_TOKEN=\"quoted-token-1\"\n",
				at(2, "DB_PASSWORD", "s3cure-env-pw"), at(3, "API_TOKEN", "quoted-token-1")),
			file("/app/.env", "DB_PASSWORD=\nDB_PASSWORD=${DB_PASSWORD}\nTOKEN_TTL=3600\nDB_USER=app\n"),
			file("/root/.aws/credentials", "[default]\naws_access_key_id = AKIDEXAMPLEPEEL\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYPEELKEY\n",
				at(3, "aws_secret_access_key", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYPEELKEY")),
			file("/etc/mysql/my.cnf", "[client]\n; password = commented-out\nuser = app\n"),
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
		c.KeyValue(RuleConfigSecret, key, value, n)
	})
}
