package rules

import (
	"fmt"
	"math/rand"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/magiconair/properties"

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

// TestPropertiesFastPath: the properties detector parses only the logical
// lines where a key hint, a keystore suffix or a backslash starts, and on
// files with no carriage return and no continued line it jumps from hint
// to hint. Both must find what parsing every logical line finds
// (propertiesReference): the same findings, keystore links and malformed
// lines, including keys Java reads through escapes and continuations
// (db.p\u0061ssword, db.p\assword, db.pa\⏎ssword). The same files read
// line by line (as a file that may continue lines is) give the same
// findings as hint to hint.
func TestPropertiesFastPath(t *testing.T) {
	r := rand.New(rand.NewSource(9))
	keys := []string{"db.password", "app.Token", "x.secret_key", "name", "server.ssl.key-store", "a\\=pass", "PWD", "list.values", "client.credential",
		"db.p\\u0061ssword", "db.p\\assword", "\\u0070wd", "app.\\u0054oken", "x.s\\u0065cret", "api\\u002dkey", "db.p\\u0061th", "k\\u00zz.password",
		"pass\\ word", "server.ssl.trust-store", "name\\=x", "DB_PASSWORD", "spring-datasource-password", "db.p\\u00E4ssword", "store"}
	values := []string{"hunter2-fast-1", "the secret is out", "classpath:store.jks", "${ENV_PW}", "v4lue-With-D1gits", "", "a token list",
		"C:\\\\dir\\\\x.p12", "s3cr\\u0065t-esc", "p\xe4ss-latin1", "/opt/trust.JKS", "x\\u00zz"}
	seps := []string{"=", " = ", ":", " ", "\t=\t", "\f:"}
	// split continues a line inside a word, as a Java file may anywhere.
	split := func(s string) string {
		if len(s) < 2 {
			return s
		}
		i := 1 + r.Intn(len(s)-1)
		if s[i-1] == '\\' {
			return s
		}
		return s[:i] + "\\\n" + strings.Repeat(" ", r.Intn(3)) + s[i:]
	}
	for round := 0; round < 1000; round++ {
		var b strings.Builder
		continued := round%2 == 1 // every other file continues some lines
		for n := r.Intn(30); n > 0; n-- {
			switch r.Intn(6) {
			case 0:
				b.WriteString("# the password is " + values[r.Intn(len(values))])
			case 1:
				b.WriteString(strings.Repeat(" ", r.Intn(3)))
			default:
				line := strings.Repeat(" \t", r.Intn(2)) + keys[r.Intn(len(keys))] + seps[r.Intn(len(seps))] + values[r.Intn(len(values))]
				if continued && r.Intn(3) == 0 {
					line = split(line)
				}
				b.WriteString(line)
			}
			b.WriteByte('\n')
		}
		file := b.String()
		switch round % 6 {
		case 4:
			file = strings.ReplaceAll(file, "\n", "\r\n")
		case 5:
			file = strings.ReplaceAll(file, "\n", "\r")
		}
		got, errGot := ScanProperties([]byte(file))
		want, errWant := propertiesReference([]byte(file))
		if !reflect.DeepEqual(got, want) || fmt.Sprint(errGot) != fmt.Sprint(errWant) {
			t.Fatalf("file %q:\nhinted lines %+v (%v)\nevery line %+v (%v)", file, got, errGot, want, errWant)
		}
		if continued || strings.Contains(file, "\r") {
			continue
		}
		slow := file + "pad=x\\\\\n" // a line ending in a backslash: read line by line
		gotSlow, errSlow := ScanProperties([]byte(slow))
		if !reflect.DeepEqual(got, gotSlow) || (errGot == nil) != (errSlow == nil) {
			t.Fatalf("file %q:\nhint to hint %+v (%v)\nline by line %+v (%v)", file, got, errGot, gotSlow, errSlow)
		}
	}
}

// propertiesReference reads a properties file as the detector does, but
// parses every logical line: what the hints may skip, it does not.
func propertiesReference(data []byte) ([]Finding, error) {
	var c Collector
	loader := properties.Loader{Encoding: properties.UTF8, DisableExpansion: true}
	if !utf8.Valid(data) {
		loader.Encoding = properties.ISO_8859_1
	}
	var malformed malformedLines
	forEachLogicalLine(data, nil, func(line []byte, lineNo, _, _ int) {
		loadProperty(loader, line, lineNo, &c, &malformed)
	})
	malformed.report(&c)
	r := c.finish()
	return r.Findings, firstIncomplete(r)
}

// TestYAMLAliases: aliases are followed as far as a budget of nodes per
// document: a document of aliases to aliases ("billion laughs", 10^9
// nodes expanded) is read in bounded time and reported as not fully
// followed, and a secret aliased before the budget runs out is still
// found; a document within the budget reads whole.
func TestYAMLAliases(t *testing.T) {
	var b strings.Builder
	b.WriteString("pw: &pw laughs-pw-1\ndb:\n  password: *pw\na0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 9; i++ {
		fmt.Fprintf(&b, "a%d: &a%d [", i, i)
		for j := 0; j < 10; j++ {
			if j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "*a%d", i-1)
		}
		b.WriteString("]\n")
	}
	got, err := ScanYAML([]byte(b.String()))
	if err == nil || !strings.Contains(err.Error(), "aliases expand past") {
		t.Errorf("error %v, want the alias budget reported", err)
	}
	checkFindings(t, got, []want{{"db.password", "laughs-pw-1", RuleConfigSecret, 3}})

	got, err = ScanYAML([]byte("a: &a [x, x]\nb: &b [*a, *a]\nc: [*b, *b]\ntoken: &t t0ken-within-budget\nd:\n  token: *t\n"))
	if err != nil {
		t.Errorf("within the budget: %v", err)
	}
	checkFindings(t, got, []want{{"token", "t0ken-within-budget", RuleConfigSecret, 4}})
}
