package gitleaks

import (
	"strings"
	"sync"
	"testing"

	"github.com/peelscan/peel/rules/internal/textscan"
)

// What window_test.go reads of an engine: a scan of one file giving its
// findings, over gitleaks' default rules.

var defaultEngine = sync.OnceValues(func() (*Engine, error) { return New(nil) })

// DefaultEngine returns the shared engine of gitleaks' default rules.
func DefaultEngine() (*Engine, error) { return defaultEngine() }

func engine(t testing.TB) *Engine {
	t.Helper()
	e, err := DefaultEngine()
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// Result is what ScanFile found.
type Result struct{ Findings []Finding }

// ScanFile runs the rules over one file.
func (e *Engine) ScanFile(name string, data []byte) Result {
	return Result{Findings: e.Scan(name, data, nil)}
}

// IsText is textscan's, for the benchmark that sits with the windows.
func IsText(head []byte) bool { return textscan.IsText(head) }

// keywordNoise is 100 lines dense in gitleaks keywords that start no
// secret: a file of it is scanned by windows, none of which reports.
var keywordNoise = strings.Repeat("the key of this map is the user name; pass the token list to the client.\n", 100)

// Synthetic provider tokens, built at run time so that no token-shaped
// string sits in the source.
var (
	fakeAWSKeyID  = "AKIA" + strings.Repeat("Q", 4) + "7PEELTESTKEY"[:8] + "Z2X4"
	fakeGitHubPAT = "ghp_" + "Pe3lTestT0ken" + "R4nd0mCh4rsXyZ" + "0123456789"[:9]
)
