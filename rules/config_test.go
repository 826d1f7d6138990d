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

func TestScanYAMLMalformed(t *testing.T) {
	got, err := ScanYAML([]byte("a.password: first-doc-pw\n---\n\tbad: [\n"))
	if err == nil {
		t.Fatal("want an error for malformed YAML")
	}
	checkFindings(t, got, []want{{"a.password", "first-doc-pw", RuleConfigSecret, 1}})
}

// TestFormatDetectors: a file is read by the format detector its name
// calls for, the first in the registry's order when several could.
func TestFormatDetectors(t *testing.T) {
	e := engine(t)
	for name, want := range map[string]string{
		"BOOT-INF/classes/application.properties": "properties",
		"messages_fr.properties":                  "properties",
		"config/application-prod.yml":             "yaml",
		"bootstrap.yaml":                          "yaml",
		"docker-compose.yml":                      "yaml",
		"/root/.kube/config":                      "yaml",
		"/app/.env":                               "keyvalue",
		"/app/.env.production":                    "keyvalue",
		"/app/.env.yml":                           "yaml",
		"/app/.env.properties":                    "properties",
		"/app/kubeconfig.json":                    "yaml",
		"/root/.aws/credentials":                  "keyvalue",
		"/home/node/.npmrc":                       "npmrc",
		"/usr/local/etc/npmrc":                    "npmrc",
		"/usr/local/tomcat/conf/server.xml":       "xml",
		"/root/.docker/config.json":               "json",
		"/root/.netrc":                            "netrc",
		"/root/.pgpass":                           "pgpass",
		"/etc/config":                             "",
		"app.jar":                                 "",
	} {
		got := ""
		for _, d := range e.formats {
			if d.Applies([]string{"/app.jar", name}) {
				got = d.Info().Name
				break
			}
		}
		if got != want {
			t.Errorf("%q is read by %q, want %q", name, got, want)
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

// TestBookListing: the properties detector's example of the book's
// listing is the v1 fixture's.
func TestBookListing(t *testing.T) {
	if bookV1Properties != stsV1Properties {
		t.Error("bookV1Properties differs from fixture.V1Properties")
	}
}

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
