package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBadConfigIsOneLine: a team's .gitleaks.toml whose regexps do not
// compile ends the run with exit 2 and one line naming the file, the rule
// and the problem; gitleaks' panic never shows.
func TestBadConfigIsOneLine(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ toml, want string }{
		{"[[rules]]\nid = \"team-token\"\nregex = \"((\"\n", `rule "team-token": regex "((" does not compile: missing closing )`},
		{"[[rules]]\nid = \"team-file\"\npath = '''*.pem'''\n", `rule "team-file": path "*.pem" does not compile: missing argument to repetition operator`},
		{"[extend]\nuseDefault = true\n[[allowlists]]\nregexes = ['''(?i''']\n", `[[allowlists]] 1: regexes[0] "(?i" does not compile: invalid or unsupported Perl syntax`},
	} {
		cfg := filepath.Join(dir, "gitleaks.toml")
		if err := os.WriteFile(cfg, []byte(tc.toml), 0o600); err != nil {
			t.Fatal(err)
		}
		r := peel(t, "scan", "--config", cfg, fx("sts-v2.tar"))
		want := "peel: " + cfg + ": " + tc.want
		if r.code != 2 || strings.Count(r.stderr, "\n") != 1 || !strings.HasPrefix(r.stderr, want) || r.stdout != "" {
			t.Errorf("exit %d, stderr %q; want exit 2 and one line starting %q", r.code, r.stderr, want)
		}
		if strings.Contains(r.stderr, "panic") || strings.Contains(r.stderr, "goroutine") {
			t.Errorf("panicked: %s", r.stderr)
		}
	}
}
