package rules

import (
	"strings"

	"github.com/peelscan/peel/rules/internal/textscan"
)

// netrc reads .netrc (and Windows' _netrc).
type netrc struct{}

func (netrc) Info() Info {
	return Info{Name: "netrc", Version: 1, Format: true, Rules: []Rule{
		configSecret.with(
			file("/root/.netrc", "machine api.example.com\n  login bot\n  password netrc-pw-1\nmachine other login x password ${P}\n",
				at(3, "machine api.example.com password", "netrc-pw-1")),
			file("/root/.netrc", "machine api.example.com login bot\n"),
		),
	}}
}

func (netrc) Applies(path []string) bool { return isName(fileName(path), ".netrc", "_netrc") }

func (netrc) Detect(f *File, c *Collector) { scanNetrc(f.Data, c) }

// scanNetrc reads .netrc: "machine HOST login USER password SECRET" in any
// layout over lines.
func scanNetrc(data []byte, c *Collector) {
	machine := ""
	want := ""
	textscan.ForEachLine(data, func(line []byte, n int) {
		for _, tok := range strings.Fields(string(line)) {
			switch {
			case want == "machine":
				machine, want = tok, ""
			case want == "password":
				c.KeyValue(RuleConfigSecret, "machine "+machine+" password", tok, n)
				want = ""
			case tok == "machine" || tok == "password":
				want = tok
			case tok == "default":
				machine = "default"
			}
		}
	})
}
