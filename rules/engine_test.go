package rules

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"reflect"
	"strings"
	"testing"

	"github.com/peelscan/peel/internal/fixture"
	"github.com/peelscan/peel/internal/testkeys"
)

func engine(t *testing.T) *Engine {
	t.Helper()
	e, err := DefaultEngine()
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// hit is a finding a file must yield: rule, line and secret.
type hit struct {
	rule   string
	line   int
	secret string
}

func checkHits(t *testing.T, r Result, want []hit) {
	t.Helper()
	var got []hit
	for _, f := range r.Findings {
		got = append(got, hit{f.RuleID, f.Line, f.Secret})
	}
	if len(got) != len(want) {
		t.Fatalf("got %d findings %+v, want %d %+v (dismissed %+v)", len(got), got, len(want), want, r.Dismissed)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("finding %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

// keywordNoise is 100 lines dense in gitleaks keywords that start no
// secret: a file of it is scanned by windows, none of which reports.
var keywordNoise = strings.Repeat("the key of this map is the user name; pass the token list to the client.\n", 100)

// Synthetic provider tokens, built at run time so that no token-shaped
// string sits in the source.
var (
	fakeAWSKeyID  = "AKIA" + strings.Repeat("Q", 4) + "7PEELTESTKEY"[:8] + "Z2X4"
	fakeGitHubPAT = "ghp_" + "Pe3lTestT0ken" + "R4nd0mCh4rsXyZ" + "0123456789"[:9]
)

// TestDetectorTables runs each format's detector through ScanFile with
// inputs that must fire and inputs that must stay quiet.
func TestDetectorTables(t *testing.T) {
	e := engine(t)
	cases := []struct {
		name, file, in string
		want           []hit
	}{
		// .env and INI
		{".env literal", "/app/.env", "# comment\nexport DB_PASSWORD=s3cure-env-pw\nAPI_TOKEN=\"quoted-token-1\"\n", []hit{
			{RuleConfigSecret, 2, "s3cure-env-pw"}, {RuleConfigSecret, 3, "quoted-token-1"}}},
		{".env quiet", "/app/.env", "DB_PASSWORD=\nDB_PASSWORD=${DB_PASSWORD}\nTOKEN_TTL=3600\nDB_USER=app\n", nil},
		{"aws credentials", "/root/.aws/credentials", "[default]\naws_access_key_id = AKIDEXAMPLEPEEL\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYPEELKEY\n", []hit{
			{RuleConfigSecret, 3, "wJalrXUtnFEMI/K7MDENG/bPxRfiCYPEELKEY"}}},
		{"npmrc token", "/home/node/.npmrc", "registry=https://registry.npmjs.org/\n//registry.npmjs.org/:_authToken=npm-peel-fake-token-1\n", []hit{
			{RuleConfigSecret, 2, "npm-peel-fake-token-1"}}},
		{"npmrc placeholder", "/home/node/.npmrc", "//registry.npmjs.org/:_authToken=${NPM_TOKEN}\n", nil},
		// XML
		{"tomcat server.xml", "/usr/local/tomcat/conf/server.xml", `<Server>
  <Connector port="8443" SSLEnabled="true"
             keystoreFile="/opt/keystore.jks"
             keystorePass="tomcat-ks-pw" truststorePass="${TRUST_PW}"/>
</Server>`, []hit{{RuleConfigSecret, 4, "tomcat-ks-pw"}}},
		{"context.xml resource", "/usr/local/tomcat/conf/context.xml", `<Context>
  <Resource name="jdbc/app" auth="Container" username="app" password="ctx-db-pw-1"/>
</Context>`, []hit{{RuleConfigSecret, 2, "ctx-db-pw-1"}}},
		{"maven settings", "/root/.m2/settings.xml", `<settings><servers>
  <server><id>nexus</id><username>deploy</username>
    <password>mvn-deploy-pw</password></server>
  <server><id>enc</id><password>{COQLCE6DU6GtcS5P=}</password></server>
  <server><id>ph</id><password>${env.NEXUS_PW}</password></server>
</servers></settings>`, []hit{{RuleConfigSecret, 3, "mvn-deploy-pw"}}},
		{"spring xml", "/app/WEB-INF/applicationContext.xml", `<beans>
  <bean id="ds" class="org.apache.commons.dbcp2.BasicDataSource">
    <property name="password" value="spring-xml-pw"/>
    <property name="passwordEncoder" value="org.example.PasswordEncoder"/>
    <property name="url" value="jdbc:h2:mem:x"/>
  </bean>
</beans>`, []hit{{RuleConfigSecret, 3, "spring-xml-pw"}}},
		{"web.xml init-param", "/app/WEB-INF/web.xml", "<web-app><servlet><init-param>\n<param-name>clientSecret</param-name>\n<param-value>servlet-secret-1</param-value>\n</init-param></servlet></web-app>", []hit{
			{RuleConfigSecret, 3, "servlet-secret-1"}}},
		// JSON
		{"docker config.json", "/root/.docker/config.json", "{\n  \"auths\": {\n    \"registry.example.com\": {\n      \"auth\": \"" +
			base64.StdEncoding.EncodeToString([]byte("ci-bot:docker-hub-pw-1")) + "\"\n    }\n  }\n}\n", []hit{
			{RuleDockerConfigAuth, 4, base64.StdEncoding.EncodeToString([]byte("ci-bot:docker-hub-pw-1"))}}},
		{"docker config.json helpers only", "/root/.docker/config.json", `{"auths": {"https://index.docker.io/v1/": {}}, "credsStore": "desktop"}`, nil},
		{"json secret keys", "/app/config/appsettings.json", "{\n \"ConnectionStrings\": {\"Default\": \"Server=db\"},\n \"Jwt\": {\"Secret\": \"json-jwt-secret-1\", \"Issuer\": \"me\"},\n \"Password\": \"\"\n}", []hit{
			{RuleConfigSecret, 3, "json-jwt-secret-1"}}},
		{"package.json quiet", "/app/package.json", `{"name": "x", "scripts": {"token": "node gen-token.js"}, "dependencies": {"jsonwebtoken": "^9.0.0"}}`, nil},
		// netrc, pgpass
		{"netrc", "/root/.netrc", "machine api.example.com\n  login bot\n  password netrc-pw-1\nmachine other login x password ${P}\n", []hit{
			{RuleConfigSecret, 3, "netrc-pw-1"}}},
		{"pgpass", "/root/.pgpass", "# host:port:db:user:pw\ndb:5432:*:app:pg\\:pass-1\n*:*:*:*:\n", []hit{
			{RuleConfigSecret, 2, "pg:pass-1"}}},
		// URLs
		{"connection URLs", "/app/conf/app.conf", "db = postgres://app:pg-url-pw@db:5432/app\nmq=amqp://guest:rabbit-url-pw@mq/\nplain=https://example.com/x\ndoc=mysql://user:password@localhost/db\nenv=redis://:${REDIS_PW}@cache:6379\n", []hit{
			{RuleURLCredentials, 1, "pg-url-pw"}, {RuleURLCredentials, 2, "rabbit-url-pw"}}},
		{"jdbc password param", "/app/conf/db.conf", "url=jdbc:mysql://db:3306/app?user=app&password=jdbc-param-pw&ssl=true\n", []hit{
			{RuleURLCredentials, 1, "jdbc-param-pw"}}},
		{"git credentials", "/root/.git-credentials", "https://bot:git-cred-token-1@git.example.com\n", []hit{
			{RuleURLCredentials, 1, "git-cred-token-1"}}},
		// kubeconfig and compose
		{"kubeconfig", "/root/.kube/config", "apiVersion: v1\nkind: Config\nusers:\n- name: admin\n  user:\n    token: kube-token-peel-1\n    client-key-data: " +
			base64.StdEncoding.EncodeToString([]byte("not-really-a-key-peel")) + "\n", []hit{
			{RuleConfigSecret, 6, "kube-token-peel-1"}, {RuleConfigSecret, 7, base64.StdEncoding.EncodeToString([]byte("not-really-a-key-peel"))}}},
		{"compose environment list", "/srv/docker-compose.yml", "services:\n  db:\n    environment:\n      - POSTGRES_PASSWORD=compose-pg-pw\n      - POSTGRES_USER=app\n      - POSTGRES_DB=${DB}\n", []hit{
			{RuleConfigSecret, 4, "compose-pg-pw"}}},
		// gitleaks catalogue
		{"gitleaks provider key", "/app/deploy.sh", "#!/bin/sh\nexport AWS_ACCESS_KEY_ID=" + fakeAWSKeyID + "\n", []hit{
			{"gitleaks.aws-access-token", 2, fakeAWSKeyID}}},
		{"gitleaks and config rule on the same bytes: one finding", "/app/application.properties", "github.token=" + fakeGitHubPAT + "\n", []hit{
			{"gitleaks.github-pat", 1, fakeGitHubPAT}}},
		// documentation and bundles
		{"placeholder in markdown", "/usr/share/doc/app/README.md", "Set `DB_PASSWORD=changeme` or use postgres://app:changeme@db/app\n", nil},
		{"real-looking value in markdown stays", "/opt/app/NOTES.md", "DB_PASSWORD=Zq8-unique-pw\n", nil},
		{"i18n bundle", "/app/messages_fr.properties", "login.password=Mot de passe\nlogin.secret=Secret partagé\n", nil},
		{"class names", "/app/application.properties", "security.password-encoder.class=org.example.BCryptPasswordEncoder\napp.token.provider=com.example.auth.TokenProvider\n", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			checkHits(t, e.ScanFile(tc.file, []byte(tc.in)), tc.want)
		})
	}
}

func TestPrivateKeys(t *testing.T) {
	e := engine(t)
	k := testkeys.NewKey("pem", "pem")
	pkcs8 := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: k.PKCS8})
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), testkeys.Reader("ec"))
	ecDER, _ := x509.MarshalECPrivateKey(ec)
	ecPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: ecDER})
	legacy := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-128-CBC,00112233445566778899AABBCCDDEEFF"}, Bytes: []byte(strings.Repeat("x", 300))})
	encPKCS8 := pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte(strings.Repeat("y", 300))})
	dct := pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Headers: map[string]string{"role": "root"}, Bytes: []byte(strings.Repeat("z", 300))})
	ossh := func(cipher string) []byte {
		body := append([]byte("openssh-key-v1\x00"), 0, 0, 0, byte(len(cipher)))
		body = append(body, cipher...)
		body = append(body, make([]byte, 200)...)
		return pem.EncodeToMemory(&pem.Block{Type: "OPENSSH PRIVATE KEY", Bytes: body})
	}
	b64 := func(b []byte) string { p, _ := pem.Decode(b); return base64.StdEncoding.EncodeToString(p.Bytes) }
	cases := []struct {
		name, file string
		in         []byte
		want       []hit
	}{
		{"pkcs8", "/etc/ssl/private/app.key", append([]byte("# tls key\n"), pkcs8...), []hit{{RulePrivateKey, 2, b64(pkcs8)}}},
		{"ec", "/app/ec.pem", ecPEM, []hit{{RulePrivateKey, 1, b64(ecPEM)}}},
		{"legacy encrypted", "/app/rsa.pem", legacy, []hit{{RulePrivateKeyEncrypted, 1, b64(legacy)}}},
		{"pkcs8 encrypted", "/app/enc.pem", encPKCS8, []hit{{RulePrivateKeyEncrypted, 1, b64(encPKCS8)}}},
		{"content trust root key", "/root/.docker/trust/private/4a5b.key", dct, []hit{{RuleContentTrustKey, 1, b64(dct)}}},
		{"openssh unencrypted", "/root/.ssh/id_ed25519", ossh("none"), []hit{{RulePrivateKey, 1, b64(ossh("none"))}}},
		{"openssh encrypted", "/root/.ssh/id_rsa", ossh("aes256-ctr"), []hit{{RulePrivateKeyEncrypted, 1, b64(ossh("aes256-ctr"))}}},
		{"truncated example", "/usr/share/doc/x/example.txt", []byte("-----BEGIN RSA PRIVATE KEY-----\nMIIEow...\n-----END RSA PRIVATE KEY-----\n"), nil},
		{"public key", "/app/pub.pem", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte("abc")}), nil},
		{"putty none", "/home/u/key.ppk", []byte("PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nComment: x\n"), []hit{{RulePrivateKey, 1, base64.StdEncoding.EncodeToString([]byte("PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nComment: x\n"))}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			checkHits(t, e.ScanFile(tc.file, tc.in), tc.want)
		})
	}
	// kubeconfig's client-key-data is the key itself, base64 of its PEM.
	kube := "apiVersion: v1\nkind: Config\nusers:\n- name: admin\n  user:\n    client-key-data: " + base64.StdEncoding.EncodeToString(pkcs8) + "\n"
	checkHits(t, e.ScanFile("/root/.kube/config", []byte(kube)), []hit{{RulePrivateKey, 6, b64(pkcs8)}})

	// A trust key that is not encrypted is critical.
	plainDCT := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Headers: map[string]string{"role": "targets"}, Bytes: k.PKCS8})
	r := e.ScanFile("/root/.docker/trust/private/abc.key", plainDCT)
	if len(r.Findings) != 1 || r.Findings[0].Severity != SeverityCritical || r.Findings[0].RuleID != RuleContentTrustKey {
		t.Errorf("unencrypted trust key: %+v", r.Findings)
	}
}

func TestScanCommand(t *testing.T) {
	e := engine(t)
	cases := []struct {
		cmd  string
		want []hit
	}{
		{"|2 NPM_TOKEN=npm-build-arg-1 VERSION=1.2 /bin/sh -c npm ci", []hit{{RuleBuildSecret, 1, "npm-build-arg-1"}}},
		{"/bin/sh -c #(nop)  ARG DB_PASSWORD=arg-default-pw", []hit{{RuleBuildSecret, 1, "arg-default-pw"}}},
		{"/bin/sh -c mysql -uroot -pmysql-cli-pw < schema.sql", []hit{{RuleBuildSecret, 1, "mysql-cli-pw"}}},
		// gitleaks' curl rule knows more than peel's and wins the tie.
		{"/bin/sh -c curl -u deploy:curl-cli-pw https://repo/x.tgz | tar xz", []hit{{"gitleaks.curl-auth-user", 1, "deploy:curl-cli-pw"}}},
		{"/bin/sh -c app init --admin-password 'flag-cli-pw' --db-token=$TOKEN", []hit{{RuleBuildSecret, 1, "flag-cli-pw"}}},
		{"/bin/sh -c #(nop)  ENV DB_PASSWORD=env-in-history", nil},
		{"java -Dspring.datasource.password=sysprop-pw -Dserver.port=8443 -jar app.jar", []hit{{RuleBuildSecret, 1, "sysprop-pw"}}},
		{"/bin/sh -c apk add --no-cache openjdk8", nil},
		{"|1 TOKEN= /bin/sh -c make", nil},
	}
	for _, tc := range cases {
		checkHits(t, e.ScanCommand(tc.cmd), tc.want)
	}
}

func TestScanAssignment(t *testing.T) {
	e := engine(t)
	checkHits(t, e.ScanAssignment("DB_PASSWORD", "env-config-pw"), []hit{{RuleImageConfigSecret, 0, "env-config-pw"}})
	checkHits(t, e.ScanAssignment("SPRING_CONFIG_LOCATION", "/opt/application.properties"), nil)
	checkHits(t, e.ScanAssignment("JAVA_HOME", "/usr/lib/jvm"), nil)
	checkHits(t, e.ScanAssignment("DB_PASSWORD", "${DB_PASSWORD}"), nil)
	checkHits(t, e.ScanAssignment("DATABASE_URL", "postgres://app:env-url-pw@db/app"), []hit{{RuleURLCredentials, 0, "env-url-pw"}})
}

func TestCustomGitleaksConfig(t *testing.T) {
	cfg := []byte(strings.ReplaceAll(fixture.ZooGitleaksConfig, "severity:high", "severity:medium"))
	e, err := NewEngine(EngineOptions{GitleaksConfig: cfg})
	if err != nil {
		t.Fatal(err)
	}
	r := e.ScanFile("/app/run.sh", []byte("x\nacme.id = "+fixture.ZooCustomToken+"\n"))
	checkHits(t, r, []hit{{"gitleaks.acme-internal-token", 2, fixture.ZooCustomToken}})
	if rule, ok := e.Rule("gitleaks.acme-internal-token"); !ok || rule.Severity != SeverityMedium || rule.Title != "ACME internal service token" {
		t.Errorf("catalogue entry %+v", rule)
	}
	if _, ok := e.Rule("gitleaks.aws-access-token"); !ok {
		t.Error("[extend] useDefault lost the default rules")
	}
	if e.Version() == engine(t).Version() {
		t.Error("a custom config did not change the ruleset version")
	}
	if _, err := NewEngine(EngineOptions{GitleaksConfig: []byte("[[rules]\nid=")}); err == nil {
		t.Error("a malformed config was accepted")
	}
}

func TestIsText(t *testing.T) {
	for in, want := range map[string]bool{"plain text\n": true, "caf\xc3\xa9": true, "caf\xe9 latin-1": true, "\x00\x01bin": false, "\xca\xfe\xba\xbe\x00": false, "cut \xe2\x82": true} {
		if got := IsText([]byte(in)); got != want {
			t.Errorf("IsText(%q) = %v", in, got)
		}
	}
}

// TestURLWindows: credentials in URLs are found on long lines, across a
// window's cut, once each, with their line numbers.
func TestURLWindows(t *testing.T) {
	e := engine(t)
	long := strings.Repeat("see https://example.com/docs/page ", 58) // past one window
	in := "x\n" + long + "postgres://app:url-window-pw-1@db/app " + long + "redis://:url-window-pw-2@cache\nlast\n"
	checkHits(t, e.ScanFile("/app/notes.conf", []byte(in)), []hit{
		{RuleURLCredentials, 2, "url-window-pw-1"}, {RuleURLCredentials, 2, "url-window-pw-2"},
	})
	// A file made of nothing but markers is read in linear time.
	e.ScanFile("/app/hostile.conf", []byte(strings.Repeat("://", 1<<20)))
}

func BenchmarkScanFileURLs(b *testing.B) {
	e, _ := DefaultEngine()
	data := []byte(strings.Repeat("<a href=\"https://example.com/docs/page\">docs</a> and more prose around it\n", 3000))
	b.SetBytes(int64(len(data)))
	for i := 0; i < b.N; i++ {
		e.ScanFile("/usr/share/app/index.html", data)
	}
}

// TestGitleaksGlobalAllowlists checks gitleaks' global allowlists after the
// engine moved their paths out of the per-window detectors: an OR
// allowlist's paths skip a file, its regexes still drop findings anywhere,
// and an AND allowlist's paths count only with its other checks; the same
// for files scanned whole and by windows.
func TestGitleaksGlobalAllowlists(t *testing.T) {
	cfg := `[extend]
useDefault = true

[[allowlists]]
description = "vendored code"
paths = ['''/vendor/''']
regexes = ['''R4nd0mCh4rs''']

[[allowlists]]
description = "fixtures with sample keys"
condition = "AND"
paths = ['''/fixtures/''']
stopWords = ["qqqq"]
`
	e, err := NewEngine(EngineOptions{GitleaksConfig: []byte(cfg)})
	if err != nil {
		t.Fatal(err)
	}
	content := "aws = " + fakeAWSKeyID + "\ngh = " + fakeGitHubPAT + "\n"
	noise := keywordNoise
	for _, c := range []struct {
		file     string
		aws, ghp bool
	}{
		{"/app/src/a.conf", true, false},
		{"/app/vendor/lib/a.conf", false, false},
		{"/app/fixtures/a.conf", false, false},
		{"/app/fixtures-not/a.conf", true, false},
	} {
		for _, size := range []string{"whole", "windows"} {
			in := content
			if size == "windows" {
				in = noise + content + noise
			}
			got := map[string]bool{}
			for _, f := range e.ScanFile(c.file, []byte(in)).Findings {
				got[f.RuleID] = true
			}
			if got["gitleaks.aws-access-token"] != c.aws || got["gitleaks.github-pat"] != c.ghp {
				t.Errorf("%s (%s): findings %v, want aws %v, github-pat %v", c.file, size, got, c.aws, c.ghp)
			}
		}
	}
	// Without the allowlists, every one of those files reports both.
	for _, f := range []string{"/app/vendor/lib/a.conf", "/app/fixtures/a.conf"} {
		if n := len(engine(t).ScanFile(f, []byte(content)).Findings); n < 2 {
			t.Errorf("default rules found %d in %s, want 2", n, f)
		}
	}
}

// TestCustomRulesOpenWindows: a team's own rule, whose regexp peel knows
// nothing of, fires in a file scanned by windows as in a small one, even
// where gitleaks' own rules' gates would stop its keyword (a short word
// followed by no token).
func TestCustomRulesOpenWindows(t *testing.T) {
	cfg := `[extend]
useDefault = true

[[rules]]
id = "acme-pin"
description = "ACME door PIN"
regex = '''pin: ([0-9]{6})'''
keywords = ["pin"]
`
	e, err := NewEngine(EngineOptions{GitleaksConfig: []byte(cfg)})
	if err != nil {
		t.Fatal(err)
	}
	noise := keywordNoise
	for _, in := range []string{"door pin: 204817\n", noise + "door pin: 204817\n" + noise} {
		r := e.ScanFile("/app/doors.txt", []byte(in))
		if len(r.Findings) != 1 || r.Findings[0].RuleID != "gitleaks.acme-pin" || r.Findings[0].Secret != "204817" {
			t.Errorf("%d bytes: findings %+v", len(in), r.Findings)
		}
	}
}

// TestPathOnlyRules: a rule without a regexp (gitleaks' pkcs12-file, or a
// team's rule flagging a file by its name) reports the file once, whatever
// its size and whether it has keyword windows, unless a global allowlist
// skips its path.
func TestPathOnlyRules(t *testing.T) {
	cfg := `[extend]
useDefault = true

[[rules]]
id = "prod-env-file"
description = "Production env file"
path = '''\.env\.prod$'''

[[allowlists]]
paths = ['''^/fixtures/''']
`
	e, err := NewEngine(EngineOptions{GitleaksConfig: []byte(cfg)})
	if err != nil {
		t.Fatal(err)
	}
	noise := keywordNoise
	for _, c := range []struct {
		file, rule string
		want       int
	}{
		{"/app/.env.prod", "gitleaks.prod-env-file", 1},
		{"/app/cert.p12", "gitleaks.pkcs12-file", 1},
		{"/fixtures/.env.prod", "gitleaks.prod-env-file", 0},
		{"/app/.env.prod.bak", "gitleaks.prod-env-file", 0},
	} {
		for _, in := range []string{"A=1\n", noise, noise + "token: " + fakeGitHubPAT + "\n" + noise} {
			n := 0
			for _, f := range e.ScanFile(c.file, []byte(in)).Findings {
				if f.RuleID == c.rule {
					n++
				}
			}
			if n != c.want {
				t.Errorf("%s, %d bytes: %d %s findings, want %d", c.file, len(in), n, c.rule, c.want)
			}
		}
	}
}

// TestEnginesEachExtendDefaults: every engine built in a process from a
// config that extends gitleaks' defaults has them, and its own allowlists
// that target a default rule, however many engines came before (gitleaks
// counts extends in a package variable).
func TestEnginesEachExtendDefaults(t *testing.T) {
	cfg := `[extend]
useDefault = true

[[rules]]
id = "acme-pin"
regex = '''pin: ([0-9]{6})'''
keywords = ["pin"]

[[allowlists]]
targetRules = ["github-pat"]
regexes = ['''R4nd0mCh4rs''']
`
	for i := 0; i < 4; i++ {
		e, err := NewEngine(EngineOptions{GitleaksConfig: []byte(cfg)})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]bool{}
		for _, f := range e.ScanFile("/app/a.conf", []byte("aws = "+fakeAWSKeyID+"\ngh = "+fakeGitHubPAT+"\ndoor pin: 204817\n")).Findings {
			got[f.RuleID] = true
		}
		want := map[string]bool{"gitleaks.aws-access-token": true, "gitleaks.acme-pin": true}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("engine %d: findings %v, want %v", i+1, got, want)
		}
	}
}
