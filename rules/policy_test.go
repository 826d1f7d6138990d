package rules

import (
	"strings"
	"testing"
)

// TestPolicies: findings are dismissed by where their file sits, each
// policy with its reason, and the test resources of dependencies are
// reported when asked.
func TestPolicies(t *testing.T) {
	e := engine(t)
	const props = "db.password=dep-test-pw-1\n"
	const urlLine = "postgres://app:k7-url-pw-3@db.internal/app\n"
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
		{"/usr/share/doc/app/README.md", "client_secret = \"Q3v9X2kP7mL4tR8wZ6nB1cY5\"\n", "example in documentation", false},
		{"/srv/app/app.conf", "client_secret = \"Q3v9X2kP7mL4tR8wZ6nB1cY5\"\n", "", false},
		// Test resources of every ecosystem.
		{"/usr/lib/python3/dist-packages/twisted/conch/test/keydata.py", urlLine, "test resource of the dependency twisted", true},
		{"/usr/local/lib/python3.11/site-packages/acme/tests/conf.py", urlLine, "test resource of the dependency acme", true},
		{"/usr/local/lib/python3.11/site-packages/acme/test_client.py", urlLine, "test resource of the dependency acme", true},
		{"/usr/lib/python3.11/test/test_urllib2net.py", urlLine, "test resource of the dependency Python's standard library (python3.11)", true},
		{"/app/node_modules/ssh2/test/fixtures/conf.js", urlLine, "test resource of the dependency ssh2", true},
		{"/app/node_modules/a/node_modules/@scope/b/__tests__/x.js", urlLine, "test resource of the dependency @scope/b", true},
		{"/app/node_modules/url/test.js", urlLine, "test resource of the dependency url", true},
		{"/usr/local/go/src/net/url/url_test.go", urlLine, "test resource of the dependency Go's source tree (go)", true},
		{"/root/go/pkg/mod/github.com/acme/x@v1.2.0/testdata/conf.txt", urlLine, "test resource of the dependency github.com/acme/x@v1.2.0", true},
		{"/usr/local/bundle/gems/net-ssh-7.0.1/spec/conf.rb", urlLine, "test resource of the dependency net-ssh-7.0.1", true},
		{"/usr/lib/google-cloud-sdk/lib/third_party/kubernetes/config/kube_config_test.py", urlLine, "test resource of the dependency kubernetes", true},
		{"/usr/lib/google-cloud-sdk/platform/gsutil/gslib/tests/test_data/conf.json", urlLine, "test resource of the dependency google-cloud-sdk", true},
		// The application's own tests and code are reported.
		{"/app/tests/test_client.py", urlLine, "", true},
		{"/go/src/app/client_test.go", urlLine, "", true},
		{"/app/node_modules/acme/lib/client.js", urlLine, "", true},
		// Documentation by the whole chain, every rule's examples.
		{"/usr/share/man/man1/curl.1.gz!curl.1", urlLine, "example in documentation", false},
		{"/usr/share/doc/libcurl4/TODO.gz!TODO", urlLine, "example in documentation", false},
		{"/usr/lib/python3/dist-packages/PyJWT-2.6.0.egg-info/PKG-INFO", urlLine, "example in documentation", false},
		{"/app/config/notes.txt", urlLine, "", false},
		// An SDK's API models and examples.
		{"/usr/lib/python3/dist-packages/botocore/data/iam/2010-05-08/examples-1.json", `{"examples": {"x": [{"output": {"SecretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYPEELKEY"}}]}}`, "example in an SDK's API documentation", false},
		// Doc comments of dependencies.
		{"/app/node_modules/mongoose/lib/connection.js", "/**\n * " + urlLine + " */\n", "example in a doc comment of the dependency mongoose", false},
		{"/usr/lib/python3/dist-packages/acme/client.py", "def f():\n    \"\"\"Connect.\n\n    " + urlLine + "    \"\"\"\n", "example in a doc comment of the dependency acme", false},
		{"/usr/lib/python3/dist-packages/acme/client.py", "URL = '" + strings.TrimSpace(urlLine) + "'\n", "", false},
		{"/usr/include/llvm-14/llvm/IR/IntrinsicImpl.inc", "  \"" + strings.TrimSpace(urlLine) + "\",\n", "example in the type declarations of the dependency llvm-14", false},
	} {
		for _, include := range []bool{false, true} {
			r := e.Scan(&File{Path: splitPath(c.path), Data: []byte(c.text)}, ScanOptions{IncludeDependencyTests: include})
			wantKept := c.dismissed == "" || include && c.withDepsTests
			if kept := len(r.Findings) == 1; kept != wantKept {
				t.Errorf("%s (include %v): findings %+v, dismissed %+v", c.path, include, r.Findings, r.Dismissed)
				continue
			}
			if !wantKept && (len(r.Dismissed) != 1 || !strings.HasPrefix(r.Dismissed[0].Reason, c.dismissed)) {
				t.Errorf("%s (include %v): dismissed %+v, want %q", c.path, include, r.Dismissed, c.dismissed)
			}
		}
	}
}
