package gitleaks

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/peelscan/peel/internal/fixture"
)

// TestBadGitleaksConfigIsAnError: every regexp of a gitleaks config that
// does not compile, which gitleaks' own loader panics on, is one error
// naming the rule, the field and the problem.
func TestBadGitleaksConfigIsAnError(t *testing.T) {
	extended := filepath.Join(t.TempDir(), "base.toml")
	if err := os.WriteFile(extended, []byte("[[rules]]\nid = \"base-rule\"\nregex = '''[z-a]'''\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ toml, want string }{
		{"[[rules]]\nid = \"bad-one\"\nregex = \"((\"\n", `rule "bad-one": regex "((" does not compile: missing closing )`},
		{"[[rules]]\nid = \"bad-path\"\npath = '''*.env'''\n", `rule "bad-path": path "*.env" does not compile: missing argument to repetition operator`},
		{"[[rules]]\nregex = '''a(b'''\n", `rule 1 (no id): regex "a(b" does not compile`},
		{"[[rules]]\nid = \"r\"\nregex = '''x'''\n[[rules.allowlists]]\nregexes = ['''ok''', '''(?P<>x)''']\n", `rule "r": allowlist 1: regexes[1] "(?P<>x)" does not compile: invalid named capture`},
		{"[[rules]]\nid = \"r\"\nregex = '''x'''\n[[rules.allowlists]]\npaths = ['''[''']\n", `rule "r": allowlist 1: paths[0] "[" does not compile: missing closing ]`},
		{"[[rules]]\nid = \"r\"\nregex = '''x'''\n[rules.allowlist]\nregexes = ['''+x''']\n", `rule "r": [rules.allowlist] regexes[0] "+x" does not compile`},
		{"[[allowlists]]\npaths = ['''**/vendor''']\n", `[[allowlists]] 1: paths[0] "**/vendor" does not compile`},
		{"[allowlist]\nregexes = ['''\\''']\n", `[allowlist] regexes[0] "\\" does not compile: trailing backslash`},
		{"[[rules]]\nid = \"g\"\nregex = '''(x)'''\nsecretGroup = -1\n", `rule "g": secretGroup -1 is negative`},
		{"[extend]\npath = \"" + extended + "\"\n", `[extend] path ` + extended + `: rule "base-rule": regex "[z-a]" does not compile: invalid character class range`},
	} {
		e, err := New([]byte(tc.toml))
		if err == nil || e != nil {
			t.Errorf("%q: accepted", tc.toml)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q:\n got  %q\n want %q", tc.toml, err, tc.want)
		}
	}
	// Configs that compile still load.
	for _, ok := range []string{fixture.ZooGitleaksConfig, "[[rules]]\nid = \"fine\"\nregex = '''fine_[0-9a-f]{8}'''\n[[rules.allowlists]]\npaths = ['''\\.md$''']\n"} {
		if _, err := New([]byte(ok)); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
}
