package gitleaks

import (
	"flag"
	"os"
	"strings"
	"testing"
)

var updateKeywords = flag.Bool("update-keywords", false, "rewrite the keyword DFA's copy of gitleaks' keywords")

// TestKeywordSnapshot: the keyword DFA's tests run over a copy of
// gitleaks' default keywords (its package may not import gitleaks); the
// copy must be the keywords of the gitleaks in go.mod.
func TestKeywordSnapshot(t *testing.T) {
	const file = "../textscan/testdata/gitleaks-keywords.txt"
	live := strings.Join(engine(t).keywords.keywords, "\n") + "\n"
	if *updateKeywords {
		if err := os.WriteFile(file, []byte(live), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != live {
		t.Errorf("%s is not gitleaks' keyword set: run go test ./rules/internal/gitleaks -run TestKeywordSnapshot -update-keywords", file)
	}
}
