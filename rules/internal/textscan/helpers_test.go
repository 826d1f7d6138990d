package textscan

import (
	"os"
	"strings"
	"sync"
	"testing"
)

// gitleaksKeywordsFile holds gitleaks' default keywords, lower-cased and
// sorted as peel's gitleaks adapter builds its scanner from them; a test of
// the adapter fails when they drift from the gitleaks in go.mod. This
// package may not import gitleaks, and its tests run the DFA over that set.
const gitleaksKeywordsFile = "testdata/gitleaks-keywords.txt"

// keywordSet is what keywords_test.go reads of an engine: its keyword
// scanner over gitleaks' keywords.
type keywordSet struct{ keywords *keywordScanner }

// DefaultEngine returns the keyword scanner of gitleaks' default keywords,
// built once.
func DefaultEngine() (keywordSet, error) { return defaultEngine() }

var defaultEngine = sync.OnceValues(func() (keywordSet, error) {
	b, err := os.ReadFile(gitleaksKeywordsFile)
	if err != nil {
		return keywordSet{}, err
	}
	return keywordSet{keywords: newKeywordScanner(strings.Split(strings.TrimSuffix(string(b), "\n"), "\n"))}, nil
})

func engine(t testing.TB) keywordSet {
	t.Helper()
	e, err := DefaultEngine()
	if err != nil {
		t.Fatal(err)
	}
	return e
}
