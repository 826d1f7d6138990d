package rules

import (
	"math/rand"
	"reflect"
	"strings"
	"testing"

	"github.com/peelscan/peel/internal/fixture"
)

// Each case is a file that must yield exactly the listed findings (key,
// line, secret, rule); a case with none must stay quiet.
type want struct {
	key, secret, rule string
	line              int
}

func TestScanProperties(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want []want
	}{
		{"book v1 listing", stsV1Properties, []want{
			{"server.ssl.key-store-password", "springboot", RuleConfigSecret, 3},
			{"spring.security.oauth.jwt.keystore.password", "springboot", RuleConfigSecret, 6},
		}},
		{"book 10.2.2 placeholders", "server.ssl.key-store-password: ${KEYSTORE_SECRET}\nspring.security.oauth.jwt.keystore.password: ${JWT_KEYSTORE_SECRET}\n", nil},
		{"placeholder with literal default", "spring.datasource.password=${DB_PASSWORD:s3cr3t-default}\n", []want{
			{"spring.datasource.password", "s3cr3t-default", RuleConfigSecretDefault, 1},
		}},
		{"placeholder with empty default", "spring.datasource.password=${DB_PASSWORD:}\n", nil},
		{"placeholder with placeholder default", "spring.datasource.password=${DB_PASSWORD:${FALLBACK}}\n", nil},
		{"jasypt", "spring.datasource.password=ENC(G6N718UuyPE5bHyWKyuLQSm02auQPUtm)\n", nil},
		{"spring cloud config cipher", "spring.datasource.password={cipher}FKSAJDFGYOS8F7GLHAKERGFHLSAJ\n", nil},
		{"empty values", "spring.datasource.password=\nspring.mail.password:   \n", nil},
		{"i18n labels", "password.label=Password\nlogin.password=Password:\nform.password=Enter your password\n", nil},
		{"capitalized word is a label", "form.password=Password\nform.secret=Secret\n", nil},
		{"weak real password stays a finding", "db.password=password\n", []want{
			{"db.password", "password", RuleConfigSecret, 1},
		}},
		{"not secret keys", "server.ssl.key-store=/opt/keystore.jks\nserver.ssl.key-alias=spring\nspring.security.oauth.jwt.keystore.name=/opt/jwt.jks\ntoken.validity-seconds=3600\n", nil},
		{"maven filtering", "spring.datasource.password=@db.password@\n", nil},
		{"masked", "app.admin.password=********\n", nil},
		{"separators and spacing", "a.password = hunter2-alpha\nb.secret:beta-secret-1\nc.token\tgamma-token-1\n", []want{
			{"a.password", "hunter2-alpha", RuleConfigSecret, 1},
			{"b.secret", "beta-secret-1", RuleConfigSecret, 2},
			{"c.token", "gamma-token-1", RuleConfigSecret, 3},
		}},
		{"continuation line keeps first line number", "# comment\napp.client-secret=abc\\\n    def\nother=1\n", []want{
			{"app.client-secret", "abcdef", RuleConfigSecret, 2},
		}},
		{"key continued onto the next line, CRLF, upper case", "x=1\r\nAPP.\\\r\n  DB_PASSWORD=crlf-pw-1\r\nother=2\r\n", []want{
			{"APP.DB_PASSWORD", "crlf-pw-1", RuleConfigSecret, 2},
		}},
		{"old Mac line ends", "a=1\rdb.password=cr-only-pw\rb=2", []want{
			{"db.password", "cr-only-pw", RuleConfigSecret, 2},
		}},
		{"hint in a comment only", "# the password is elsewhere\nname=value-one\n", nil},
		{"comment never continues", "# app.password=commented\\\napp.password=live-one\n", []want{
			{"app.password", "live-one", RuleConfigSecret, 2},
		}},
		{"unicode escape in value", "db.pwd=p\\u00e4ss-w0rd\n", []want{
			{"db.pwd", "päss-w0rd", RuleConfigSecret, 1},
		}},
		{"duplicate keys both reported", "x.password=first-one\nx.password=second-one\n", []want{
			{"x.password", "first-one", RuleConfigSecret, 1},
			{"x.password", "second-one", RuleConfigSecret, 2},
		}},
		{"crlf", "a=1\r\nspring.rabbitmq.password=guest-guest\r\n", []want{
			{"spring.rabbitmq.password", "guest-guest", RuleConfigSecret, 2},
		}},
		{"key material names", "aws.secret-key=AKfakefakefake\nmy.api_key=k-123456\ntrust-store-password=changeit\n", []want{
			{"aws.secret-key", "AKfakefakefake", RuleConfigSecret, 1},
			{"my.api_key", "k-123456", RuleConfigSecret, 2},
			{"trust-store-password", "changeit", RuleConfigSecret, 3},
		}},
		{"url values", "oauth.token=https://idp.example/token\nmail.password=smtp://user:pw@host\n", []want{
			{"mail.password", "smtp://user:pw@host", RuleConfigSecret, 2},
		}},
		{"file references", "server.ssl.private-key=classpath:tls/key.pem\n", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ScanProperties([]byte(tc.in))
			if err != nil {
				t.Fatalf("ScanProperties: %v", err)
			}
			checkFindings(t, got, tc.want)
		})
	}
}

func TestScanYAML(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want []want
	}{
		{"nested keys", `server:
  port: 8443
  ssl:
    key-store: /opt/keystore.jks
    key-store-password: springboot
spring:
  datasource:
    password: "quoted-secret"
`, []want{
			{"server.ssl.key-store-password", "springboot", RuleConfigSecret, 5},
			{"spring.datasource.password", "quoted-secret", RuleConfigSecret, 8},
		}},
		{"placeholders", "server:\n  ssl:\n    key-store-password: ${KEYSTORE_SECRET}\n    key-password: ${KEY_SECRET:fallback-pw}\n", []want{
			{"server.ssl.key-password", "fallback-pw", RuleConfigSecretDefault, 4},
		}},
		{"profiles as documents", "spring.profiles: dev\napp.token: dev-token-1\n---\nspring.profiles: prod\napp.token: ${TOKEN}\n", []want{
			{"app.token", "dev-token-1", RuleConfigSecret, 2},
		}},
		{"lists", "clients:\n  - id: web\n    client-secret: web-secret-1\n", []want{
			{"clients[0].client-secret", "web-secret-1", RuleConfigSecret, 3},
		}},
		{"quiet values", "a:\n  password:\n  secret: ~\n  token: ENC(abc)\n  pwd: '{cipher}abc'\n  enabled-password: true\n", nil},
		{"aliases are not followed", "base: &b\n  password: anchor-secret\nother: *b\n", []want{
			{"base.password", "anchor-secret", RuleConfigSecret, 2},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ScanYAML([]byte(tc.in))
			if err != nil {
				t.Fatalf("ScanYAML: %v", err)
			}
			checkFindings(t, got, tc.want)
		})
	}
}

func TestScanYAMLMalformed(t *testing.T) {
	got, err := ScanYAML([]byte("a.password: first-doc-pw\n---\n\tbad: [\n"))
	if err == nil {
		t.Fatal("want an error for malformed YAML")
	}
	checkFindings(t, got, []want{{"a.password", "first-doc-pw", RuleConfigSecret, 1}})
}

func TestConfigFormat(t *testing.T) {
	for name, want := range map[string]Format{
		"BOOT-INF/classes/application.properties": FormatProperties,
		"messages_fr.properties":                  FormatProperties,
		"config/application-prod.yml":             FormatYAML,
		"bootstrap.yaml":                          FormatYAML,
		"docker-compose.yml":                      FormatYAML,
		"/root/.kube/config":                      FormatYAML,
		"/app/.env":                               FormatKeyValue,
		"/app/.env.production":                    FormatKeyValue,
		"/root/.aws/credentials":                  FormatKeyValue,
		"/home/node/.npmrc":                       FormatKeyValue,
		"/usr/local/tomcat/conf/server.xml":       FormatXML,
		"/root/.docker/config.json":               FormatJSON,
		"/root/.netrc":                            FormatNetrc,
		"/root/.pgpass":                           FormatPgpass,
		"/etc/config":                             FormatNone,
		"app.jar":                                 FormatNone,
	} {
		if got := ConfigFormat(name); got != want {
			t.Errorf("ConfigFormat(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestIsSecretKey(t *testing.T) {
	yes := []string{"password", "spring.datasource.password", "server.ssl.key-store-password", "server.ssl.keyPassword",
		"server.ssl.trust-store-password", "app.client_secret", "github.token", "aws.credentials", "x.api-key",
		"x.accessKey", "jwt.private-key", "db.passwd", "db.pwd", "ldap.pass", "a.secret"}
	no := []string{"server.ssl.key-store", "server.ssl.key-alias", "spring.security.oauth.jwt.keystore.name",
		"password.label", "token.validity-seconds", "server.port", "sort-key", "passwordEncoder", "keystore.type", "bypass"}
	for _, k := range yes {
		if !IsSecretKey(k) {
			t.Errorf("IsSecretKey(%q) = false, want true", k)
		}
	}
	for _, k := range no {
		if IsSecretKey(k) {
			t.Errorf("IsSecretKey(%q) = true, want false", k)
		}
	}
}

func checkFindings(t *testing.T, got []Finding, want []want) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d findings %+v, want %d %+v", len(got), got, len(want), want)
	}
	for i, w := range want {
		g := got[i]
		if g.Key != w.key || g.Secret != w.secret || g.RuleID != w.rule || g.Line != w.line {
			t.Errorf("finding %d = {%s %q %s line %d}, want {%s %q %s line %d}", i, g.Key, g.Secret, g.RuleID, g.Line, w.key, w.secret, w.rule, w.line)
		}
	}
}

// stsV1Properties is the book's listing of the v1 jar's
// BOOT-INF/classes/application.properties.
const stsV1Properties = fixture.V1Properties

func TestCheapPrefilters(t *testing.T) {
	for doc, want := range map[string]bool{
		"password: x\n": true, "- DB_PASSWORD=x\n": true, "[a, b]\n": true, "? key\n": true,
		"just one plain scalar, password or not\n": false, "": false,
	} {
		if got := yamlHasEntries([]byte(doc)); got != want {
			t.Errorf("yamlHasEntries(%q) = %v", doc, got)
		}
	}
}

// TestPropertiesKeystoreLinks: a password finding names the keystore that
// a key beside it points to, whether a key hint is in that key's name or
// only in its value; a hint in a value alone yields no finding.
func TestPropertiesKeystoreLinks(t *testing.T) {
	in := "server.ssl.key-store=classpath:keystore.jks\nserver.ssl.key-store-password=link-pw-1\n" +
		"app.store.file=/opt/secret-store.p12\napp.store.password=link-pw-2\n" +
		"docs.note=the secret is elsewhere\nname=the token list\n"
	fs, err := ScanProperties([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	got := map[int]string{}
	for _, f := range fs {
		got[f.Line] = f.Secret + " -> " + strings.Join(f.Refers, ",")
	}
	want := map[int]string{2: "link-pw-1 -> classpath:keystore.jks", 4: "link-pw-2 -> /opt/secret-store.p12"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("findings %v, want %v", got, want)
	}
}

// TestPropertiesFastPath: on files with no carriage return and no continued
// line, properties are read by jumping from hint to hint; the same files
// read line by line (as a file that may continue lines is) must give the
// same findings.
func TestPropertiesFastPath(t *testing.T) {
	r := rand.New(rand.NewSource(9))
	keys := []string{"db.password", "app.Token", "x.secret_key", "name", "server.ssl.key-store", "a\\=pass", "PWD", "list.values", "client.credential"}
	values := []string{"hunter2-fast-1", "the secret is out", "classpath:store.jks", "${ENV_PW}", "v4lue-With-D1gits", "", "a token list"}
	seps := []string{"=", " = ", ":", " ", "\t=\t"}
	for round := 0; round < 300; round++ {
		var b strings.Builder
		for n := r.Intn(30); n > 0; n-- {
			switch r.Intn(6) {
			case 0:
				b.WriteString("# the password is " + values[r.Intn(len(values))])
			case 1:
				b.WriteString(strings.Repeat(" ", r.Intn(3)))
			default:
				b.WriteString(strings.Repeat(" \t", r.Intn(2)) + keys[r.Intn(len(keys))] + seps[r.Intn(len(seps))] + values[r.Intn(len(values))])
			}
			b.WriteByte('\n')
		}
		fast := b.String()
		slow := fast + "pad=x\\\\\n" // a line ending in a backslash: read line by line
		gotFast, errFast := ScanProperties([]byte(fast))
		gotSlow, errSlow := ScanProperties([]byte(slow))
		if !reflect.DeepEqual(gotFast, gotSlow) || (errFast == nil) != (errSlow == nil) {
			t.Fatalf("file %q:\nhint to hint %+v (%v)\nline by line %+v (%v)", fast, gotFast, errFast, gotSlow, errSlow)
		}
	}
}
