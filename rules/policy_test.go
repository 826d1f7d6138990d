package rules

import "testing"

// TestPolicies: findings are dismissed by where their file sits, each
// policy with its reason, and the test resources of dependencies are
// reported when asked.
func TestPolicies(t *testing.T) {
	e := engine(t)
	const props = "db.password=dep-test-pw-1\n"
	for _, c := range []struct {
		path          string
		text          string
		dismissed     string // the reason, "" when the finding stays
		withDepsTests bool   // the finding stays with IncludeDependencyTests
	}{
		{"/app.jar!BOOT-INF/lib/acme-client-1.0.jar!test/application.properties", props, "test resource of the dependency acme-client-1.0.jar", true},
		{"/app.war!WEB-INF/lib/x.jar!fixtures/db.properties", props, "test resource of the dependency x.jar", true},
		{"/root/.m2/repository/org/x/1.0/x-1.0.jar!examples/app.properties", props, "test resource of the dependency x-1.0.jar", true},
		{"/usr/share/java/x.jar!x-test.properties", props, "test resource of the dependency x.jar", true},
		{"/app.jar!BOOT-INF/classes/test/application.properties", props, "", true},
		{"/app.jar!BOOT-INF/lib/acme-client-1.0.jar!application.properties", props, "", true},
		{"/opt/test/application.properties", props, "", true},
		{"/app/messages_de.properties", "login.password=Kennwort eingeben\n", "label in a message bundle", false},
		{"/usr/share/doc/app/README.md", "client_secret = \"Q3v9X2kP7mL4tR8wZ6nB1cY5\"\n", "placeholder in documentation", false},
		{"/srv/app/app.conf", "client_secret = \"Q3v9X2kP7mL4tR8wZ6nB1cY5\"\n", "", false},
	} {
		for _, include := range []bool{false, true} {
			r := e.Scan(&File{Path: splitPath(c.path), Data: []byte(c.text)}, ScanOptions{IncludeDependencyTests: include})
			wantKept := c.dismissed == "" || include && c.withDepsTests
			if kept := len(r.Findings) == 1; kept != wantKept {
				t.Errorf("%s (include %v): findings %+v, dismissed %+v", c.path, include, r.Findings, r.Dismissed)
				continue
			}
			if !wantKept && (len(r.Dismissed) != 1 || r.Dismissed[0].Reason[:len(c.dismissed)] != c.dismissed) {
				t.Errorf("%s (include %v): dismissed %+v, want %q", c.path, include, r.Dismissed, c.dismissed)
			}
		}
	}
}
