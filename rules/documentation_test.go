package rules

import "testing"

// TestTextFilesAreNotDocumentation: a .txt file is scanned as any file (a
// team's notes or credentials.txt), unless it lies under a documentation
// directory; Markdown stays documentation.
func TestTextFilesAreNotDocumentation(t *testing.T) {
	e := engine(t)
	line := []byte(`api_key = "Zq81xW3rT6uV0pLm9KdN4c"` + "\n")
	for name, want := range map[string]bool{
		"/app/secrets.txt":             true,
		"/srv/notes/credentials.txt":   true,
		"/usr/share/doc/app/howto.txt": false,
		"/app/docs/setup.md":           false,
	} {
		r := e.ScanFile(name, line)
		got := len(r.Findings) > 0
		if got != want {
			t.Errorf("%s: findings %+v (dismissed %+v), want reported %v", name, r.Findings, r.Dismissed, want)
		}
	}
}
