package scanner

import (
	"fmt"
	"strings"
	"testing"

	"github.com/peelscan/peel/internal/testkeys"
	"github.com/peelscan/peel/rules"
)

// TestKeystoreBudget: keystore verification shares a budget of bytes
// hashed per scan; when it runs out, the passwords left untried are
// reported, and the scan goes on.
func TestKeystoreBudget(t *testing.T) {
	defer func(w int64) { keystoreWork = w }(keystoreWork)
	ks := testkeys.JKS("the-right-one", "k")
	keystoreWork = int64(len(ks)) * 30 // about 30 tries in all
	var findings []Finding
	for i := 0; i < 25; i++ {
		findings = append(findings, Finding{Finding: rules.Finding{RuleID: rules.RuleConfigSecret, Secret: fmt.Sprintf("wrong-%d", i), Line: i + 1}, Path: []string{"/a.properties"}})
	}
	findings = append(findings, Finding{Finding: rules.Finding{RuleID: rules.RuleConfigSecret, Secret: "the-right-one", Line: 26}, Path: []string{"/a.properties"}})
	files := []KeystoreFile{{Path: []string{"/one.jks"}, Data: ks}, {Path: []string{"/two.jks"}, Data: ks}, {Path: []string{"/three.jks"}, Data: ks}}
	found, skipped, _ := verifyKeystores(findings, files)
	if len(found) != 3 || !found[0].Verified {
		t.Fatalf("found %+v", found)
	}
	for _, f := range found[1:] {
		if f.Verified || f.RuleID != rules.RuleKeystorePrivateKey {
			t.Errorf("%s verified past the budget: %+v", f.Location(), f)
		}
	}
	if len(skipped) == 0 || !strings.Contains(skipped[len(skipped)-1].Reason, "verification budget is used up") {
		t.Errorf("skipped %+v; want the budget reported", skipped)
	}
}
