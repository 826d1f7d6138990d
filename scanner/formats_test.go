package scanner_test

import (
	"strings"
	"testing"

	"github.com/peelscan/peel/internal/fixture"
	"github.com/peelscan/peel/scanner"
)

// TestFormats: every secret of the formats image, written as Java and
// Spring Boot read configuration (links named like config files, escapes,
// UTF-16, YAML aliases, relaxed names, JVM options, SPRING_APPLICATION_JSON,
// command-line arguments), is found at its location by its rule, and
// nothing else is; the link to a file of an earlier layer is reported as
// not read.
func TestFormats(t *testing.T) {
	res := scanImage(t, mustImage(t, fixture.Formats), scanner.Options{})
	compareSets(t, foundKeys(res.Findings), plantedKeys(fixture.FormatsPlanted))
	for _, l := range fixture.FormatsLookalikes {
		for _, f := range res.Findings {
			if loc := f.Location(); loc == l.Location || strings.HasPrefix(loc, l.Location+":") {
				t.Errorf("look-alike reported: %s (%s): %s", l.Location, l.Why, f.RuleID)
			}
		}
	}
	var incomplete []string
	for _, in := range res.Incomplete {
		incomplete = append(incomplete, strings.Join(in.Path, "!"))
		if !strings.Contains(in.Reason, "a link to /etc/app/shared.conf: not read as properties") {
			t.Errorf("incomplete %s: %s", strings.Join(in.Path, "!"), in.Reason)
		}
	}
	compareSets(t, incomplete, fixture.FormatsIncomplete)
	for _, f := range res.Findings {
		if f.Severity.String() != "high" {
			t.Errorf("%s %s: severity %s, want high", f.Location(), f.RuleID, f.Severity)
		}
	}
}
