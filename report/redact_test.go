package report

import (
	"testing"

	"github.com/peelscan/peel/rules"
	"github.com/peelscan/peel/scanner"
)

func TestRedactorHidesEverySecretEverywhere(t *testing.T) {
	res := &scanner.Result{Findings: []scanner.Finding{
		{Finding: rules.Finding{Secret: "long-secret-value"}},
		{Finding: rules.Finding{Secret: "long-secret"}}, // inside the other: the longer is hidden whole
		{Finding: rules.Finding{Secret: "p@ss w/rd+1"}},
		{Finding: rules.Finding{Secret: "pw1"}},
		{Finding: rules.Finding{Secret: ""}},
	}}
	r := newRedactor([]*scanner.Result{res})
	for in, want := range map[string]string{
		"|1 TOKEN=long-secret-value /bin/sh -c make": "|1 TOKEN=lo… /bin/sh -c make",
		"x long-secret y":                   "x lo… y",
		"https://u:p%40ss+w%2Frd%2B1@host/": "https://u:p@…@host/",
		"https://u:p@ss%20w%2Frd+1@host/":   "https://u:p@…@host/",
		"--password p@ss w/rd+1 --x":        "--password p@… --x",
		"|1 PW=pw1 /bin/sh":                 "|1 PW=… /bin/sh",
		"pw1":                               "…",
		"/opt/spw1x/pw12.txt":               "/opt/spw1x/pw12.txt", // a short secret inside a word stays
		"nothing here":                      "nothing here",
		"":                                  "",
	} {
		if got := r.s(in); got != want {
			t.Errorf("s(%q) = %q, want %q", in, got, want)
		}
	}
	var none *redactor // --show-secrets
	if got := none.s("long-secret-value"); got != "long-secret-value" {
		t.Errorf("nil redactor changed %q", got)
	}
}
