package rules

import (
	"fmt"
	"strings"
	"testing"
)

// TestNestingLimit: JSON and XML nested past MaxNesting are read up to it
// and the rest reported; a secret before the limit is still found, and
// nesting up to it is read whole.
func TestNestingLimit(t *testing.T) {
	e := engine(t)
	deepJSON := `{"db": {"password": "before-the-limit-1"}, "x": ` + strings.Repeat("[", 100_000) + `"x"` + strings.Repeat("]", 100_000) + "}"
	deepXML := "<a><password>before-the-limit-2</password>" + strings.Repeat("<b>", 100_000) + strings.Repeat("</b>", 100_000) + "</a>"
	for name, c := range map[string]struct {
		file, data, secret, incomplete string
	}{
		"json": {"/app/deep.json", deepJSON, "before-the-limit-1", "JSON nested deeper than 512 levels at line 1"},
		"xml":  {"/app/deep.xml", deepXML, "before-the-limit-2", "XML nested deeper than 512 levels at line 1"},
		"json at the limit": {"/app/ok.json", strings.Repeat(`{"a":`, MaxNesting-1) + `{"password": "at-the-limit-3"}` + strings.Repeat("}", MaxNesting-1),
			"at-the-limit-3", ""},
		"xml at the limit": {"/app/ok.xml", strings.Repeat("<a>", MaxNesting-1) + "<password>at-the-limit-4</password>" + strings.Repeat("</a>", MaxNesting-1),
			"at-the-limit-4", ""},
	} {
		t.Run(name, func(t *testing.T) {
			r := e.ScanFile(c.file, []byte(c.data))
			found := false
			for _, f := range r.Findings {
				found = found || f.Secret == c.secret
			}
			if !found {
				t.Errorf("the secret was not found: %+v", r.Findings)
			}
			if c.incomplete == "" && len(r.Incomplete) > 0 || c.incomplete != "" && (len(r.Incomplete) != 1 || !strings.HasPrefix(r.Incomplete[0].Reason, c.incomplete)) {
				t.Errorf("incomplete %+v, want %q", r.Incomplete, c.incomplete)
			}
		})
	}
}

// TestFindingsPerFile: one file reports at most MaxFindingsPerFile
// findings and lists as many dismissals, and says what it cut.
func TestFindingsPerFile(t *testing.T) {
	e := engine(t)
	var b strings.Builder
	for i := 0; i < 3*rawPerFile; i++ {
		fmt.Fprintf(&b, "k%06d.password=value-%06d\nk%06d.secret=${SECRET_%d}\n", i, i, i, i)
	}
	r := e.ScanFile("/app/many.properties", []byte(b.String()))
	if len(r.Findings) != MaxFindingsPerFile || r.Findings[0].Secret != "value-000000" {
		t.Errorf("%d findings, first %+v", len(r.Findings), r.Findings[0])
	}
	if len(r.Incomplete) != 1 || !strings.HasPrefix(r.Incomplete[0].Reason, "more than 1000 findings in this file: ") {
		t.Errorf("incomplete: %+v", r.Incomplete)
	}
	if len(r.Dismissed) != MaxFindingsPerFile+1 || !strings.HasPrefix(r.Dismissed[MaxFindingsPerFile].Reason, "and ") {
		t.Errorf("%d dismissals, last %+v", len(r.Dismissed), r.Dismissed[len(r.Dismissed)-1])
	}
	// Under the cap: nothing cut.
	small := e.ScanFile("/app/few.properties", []byte("a.password=one-of-few-1\nb.password=one-of-few-2\n"))
	if len(small.Findings) != 2 || len(small.Incomplete) != 0 {
		t.Errorf("few: %+v", small)
	}
}
