package scanner_test

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/peelscan/peel/internal/fixture"
	"github.com/peelscan/peel/rules"
	"github.com/peelscan/peel/scanner"
)

func plantedKeys(ps []fixture.Planted) []string {
	var out []string
	for _, p := range ps {
		out = append(out, fmt.Sprintf("%s %s %q deleted=%d", p.Location, p.Rule, p.Secret, p.Deleted))
	}
	sort.Strings(out)
	return out
}

func foundKeys(fs []scanner.Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, fmt.Sprintf("%s %s %q deleted=%d", f.Location(), f.RuleID, f.Secret, f.DeletedInLayer))
	}
	sort.Strings(out)
	return out
}

// TestZoo asserts that every planted secret of the zoo image is found at
// its location and line, by its rule, and that nothing else is: none of the
// look-alikes.
func TestZoo(t *testing.T) {
	if len(fixture.ZooPlanted) < 20 || len(fixture.ZooLookalikes) < 10 {
		t.Fatalf("the zoo has %d secrets and %d look-alikes", len(fixture.ZooPlanted), len(fixture.ZooLookalikes))
	}
	img := mustImage(t, fixture.Zoo)
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if mt, _ := ls[1].MediaType(); mt != types.OCILayerZStd {
		t.Fatalf("layer 2 is %s, want a zstd layer", mt)
	}
	res := scanImage(t, img, scanner.Options{ResultOptions: scanner.ResultOptions{Explain: true}})
	got, want := foundKeys(res.Findings), plantedKeys(fixture.ZooPlanted)
	compareSets(t, got, want)
	for _, l := range fixture.ZooLookalikes {
		for _, f := range res.Findings {
			if strings.HasPrefix(f.Location(), l.Location) {
				t.Errorf("look-alike reported: %s (%s): %s", l.Location, l.Why, f.RuleID)
			}
		}
	}
	if len(res.Incomplete) != 0 {
		t.Errorf("incomplete: %+v", res.Incomplete)
	}
	// The JCEKS store opens with the password from keystore.properties.
	for _, f := range res.Findings {
		if f.RuleID == rules.RuleKeystoreVerified && f.VerifiedBy != "/app/config/keystore.properties:1" {
			t.Errorf("JCEKS verified by %q", f.VerifiedBy)
		}
	}
	// Every dismissal has a reason, and the dependency's test resource is
	// among them.
	sawDepTest := false
	for _, d := range res.Dismissed {
		if d.Reason == "" {
			t.Errorf("dismissal without a reason: %+v", d)
		}
		if strings.Contains(d.Reason, "test resource of the dependency acme-client-1.0.jar") {
			sawDepTest = true
		}
	}
	if !sawDepTest {
		t.Error("the dependency test resource was not listed as dismissed")
	}
	// With --include-dependency-tests it is reported.
	res = scanImage(t, img, scanner.Options{ResultOptions: scanner.ResultOptions{IncludeDependencyTests: true}})
	if len(res.Findings) != len(fixture.ZooPlanted)+1 {
		t.Errorf("with dependency tests: %d findings, want %d", len(res.Findings), len(fixture.ZooPlanted)+1)
	}
}

func TestZooCustomGitleaksConfig(t *testing.T) {
	e, err := rules.NewEngine(rules.EngineOptions{GitleaksConfig: []byte(fixture.ZooGitleaksConfig)})
	if err != nil {
		t.Fatal(err)
	}
	res := scanImage(t, mustImage(t, fixture.Zoo), scanner.Options{Engine: e})
	compareSets(t, foundKeys(res.Findings), plantedKeys(append(append([]fixture.Planted{}, fixture.ZooPlanted...), fixture.ZooCustomPlanted)))
}

func compareSets(t *testing.T, got, want []string) {
	t.Helper()
	g, w := map[string]bool{}, map[string]bool{}
	for _, s := range got {
		g[s] = true
	}
	for _, s := range want {
		w[s] = true
		if !g[s] {
			t.Errorf("missing: %s", s)
		}
	}
	for _, s := range got {
		if !w[s] {
			t.Errorf("unexpected: %s", s)
		}
	}
}
