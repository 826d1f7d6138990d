package gitleaks

import (
	"crypto/sha256"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"runtime/debug"
	"slices"
	"strings"
	"testing"

	glconfig "github.com/zricethezav/gitleaks/v8/config"
	glregexp "github.com/zricethezav/gitleaks/v8/regexp"
)

var updatePin = flag.Bool("update-pin", false, "record the gitleaks version and generic-api-key rule the gate was derived from")

// pinnedGitleaks is the gitleaks whose generic-api-key rule the
// hand-written gate (genericGate, secretShape, isSecretByte,
// lettersOnlyRegexp in window.go) was derived from (the provider rules'
// gates are derived from their regexps at load: gates.go).
const pinnedGitleaks = "v8.30.1"

// pinFile records that rule as it was then.
const pinFile = "testdata/generic-api-key.pin"

// upgrade is what the test tells whoever moves gitleaks on.
const upgrade = `gitleaks changed under peel's hand-written gates. sameMatching turns the generic gate off for a
rule that differs from gitleaks' *current* default, so a changed generic-api-key would keep running behind a
gate derived from the old grammar. Before moving the pin:
  1. diff the rule against ` + pinFile + ` (go test ./rules/internal/gitleaks -run TestGitleaksPin -v prints it);
  2. re-derive genericGate, secretShape, isSecretByte and lettersOnlyRegexp in window.go from the new regex,
     entropy, keywords and allowlists;
  3. run TestGenericGateIsNecessary and TestGitleaksWindowsMatchWholeFile (they must pass unchanged), make
     windows (every generated sample of the new gitleaks, padded, against gitleaks on the whole file), and
     TestKeywordSnapshot -update-keywords for the DFA's copy of the keywords;
  4. then record the new rule and version: go test ./rules/internal/gitleaks -run TestGitleaksPin -update-pin,
     and set pinnedGitleaks.`

// TestGitleaksPin fails, with what to do, when the gitleaks in the build
// or its generic-api-key rule is not the one the gates were derived from.
func TestGitleaksPin(t *testing.T) {
	version := ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == modulePath {
				version = d.Version
				if d.Replace != nil {
					version = d.Replace.Version
				}
			}
		}
	}
	if version == "" {
		// Test binaries carry no module list: ask the go command.
		out, err := exec.Command("go", "list", "-m", "-f", "{{if .Replace}}{{.Replace.Version}}{{else}}{{.Version}}{{end}}", modulePath).Output()
		if err != nil {
			t.Fatalf("go list -m %s: %v", modulePath, err)
		}
		version = strings.TrimSpace(string(out))
	}
	defaults, err := loadGitleaks([]byte(glconfig.DefaultConfig))
	if err != nil {
		t.Fatal(err)
	}
	r, ok := defaults.Rules["generic-api-key"]
	if !ok {
		t.Fatalf("gitleaks %s has no generic-api-key rule.\n%s", version, upgrade)
	}
	got := describeRule(r)
	t.Logf("gitleaks %s generic-api-key:\n%s", version, got)
	if *updatePin {
		if err := os.WriteFile(pinFile, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if version != pinnedGitleaks {
		t.Errorf("the build has gitleaks %q, the gates were derived from %s.\n%s", version, pinnedGitleaks, upgrade)
	}
	want, err := os.ReadFile(pinFile)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("gitleaks %s's generic-api-key is not the rule in %s.\n%s", version, pinFile, upgrade)
	}
}

// describeRule writes what of a rule decides what it matches: its regexp,
// secret group, entropy, path, keywords and allowlists (stopwords by count
// and the hash of their sorted list).
func describeRule(r glconfig.Rule) string {
	str := func(re *glregexp.Regexp) string {
		if re == nil {
			return ""
		}
		return re.String()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "regex: %s\nsecretGroup: %d\nentropy: %v\npath: %s\nkeywords: %s\n",
		str(r.Regex), r.SecretGroup, r.Entropy, str(r.Path), strings.Join(r.Keywords, " "))
	for i, a := range r.Allowlists {
		fmt.Fprintf(&b, "allowlist %d: condition %v, target %q, commits %d\n", i, a.MatchCondition, a.RegexTarget, len(a.Commits))
		for _, re := range a.Paths {
			fmt.Fprintf(&b, "  path: %s\n", re.String())
		}
		for _, re := range a.Regexes {
			fmt.Fprintf(&b, "  regex: %s\n", re.String())
		}
		if len(a.StopWords) > 0 {
			words := slices.Sorted(slices.Values(a.StopWords)) // gitleaks' order varies
			fmt.Fprintf(&b, "  stopwords: %d, sha256 %x\n", len(words), sha256.Sum256([]byte(strings.Join(words, "\n"))))
		}
	}
	return b.String()
}
