package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Entry is one finding in expectations.tsv: which image, rule, location
// chain (archive members joined with "!", no layer), line and key, and a
// one-line judgment of what it is. Fingerprints are not part of it: the
// identity must survive changes to how fingerprints are computed.
type Entry struct {
	Image, Rule, Location string
	Line                  int
	Key, Judgment         string
}

// Unjudged marks an entry that -update added and nobody has judged yet.
const Unjudged = "unjudged"

// id is the exact identity of a finding.
func (e Entry) id() string {
	return strings.Join([]string{e.Image, e.Rule, e.Location, strconv.Itoa(e.Line), e.Key}, "\t")
}

var digits = regexp.MustCompile(`[0-9]+`)

// loose is the identity with the line left out and every number in the
// location taken as equal: the same finding in another version of a
// package (tomcat10-i18n-ja-10.1.60.jar and -10.1.61.jar).
func (e Entry) loose() string {
	return strings.Join([]string{e.Image, e.Rule, digits.ReplaceAllString(e.Location, "N"), e.Key}, "\t")
}

// outer is the file in the image holding the finding: the location's part
// before the first archive member.
func (e Entry) outer() string {
	o, _, _ := strings.Cut(e.Location, "!")
	return o
}

// class is the judgment's kind: "false positive", "real secret", …
func (e Entry) class() string {
	c, _, _ := strings.Cut(e.Judgment, ":")
	return strings.TrimSpace(c)
}

const expectationsHeader = `# Every finding peel reports on the real-world corpus (make realworld), one per line,
# tab-separated: IMAGE RULE LOCATION LINE KEY JUDGMENT. LOCATION is the chain of files and
# archive members (joined with "!") without the layer; LINE and KEY are "-" when absent.
# JUDGMENT says what the finding is: "false positive: WHY", "test key: WHOSE", "real secret: …",
# or "unjudged" (written by make realworld UPDATE=1 for a new finding; unjudged entries fail).
# Rewrite with make realworld UPDATE=1: judgments are kept, new findings marked unjudged.
`

// readExpectations reads expectations.tsv.
func readExpectations(path string) ([]Entry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var es []Entry
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fs := strings.Split(line, "\t")
		if len(fs) != 6 {
			return nil, fmt.Errorf("%s:%d: want 6 tab-separated fields, got %d", path, n, len(fs))
		}
		e := Entry{Image: fs[0], Rule: fs[1], Location: fs[2], Key: dash(fs[4]), Judgment: fs[5]}
		if fs[3] != "-" {
			if e.Line, err = strconv.Atoi(fs[3]); err != nil {
				return nil, fmt.Errorf("%s:%d: line %q: %v", path, n, fs[3], err)
			}
		}
		es = append(es, e)
	}
	return es, sc.Err()
}

func dash(s string) string {
	if s == "-" {
		return ""
	}
	return s
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// sortEntries orders entries by image, location, line, rule and key.
func sortEntries(es []Entry) {
	sort.SliceStable(es, func(i, j int) bool {
		a, b := es[i], es[j]
		if a.Image != b.Image {
			return a.Image < b.Image
		}
		if a.Location != b.Location {
			return a.Location < b.Location
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Rule != b.Rule {
			return a.Rule < b.Rule
		}
		return a.Key < b.Key
	})
}

// writeExpectations writes es, sorted, to path.
func writeExpectations(path string, es []Entry) error {
	sortEntries(es)
	var b strings.Builder
	b.WriteString(expectationsHeader)
	for _, e := range es {
		line := "-"
		if e.Line > 0 {
			line = strconv.Itoa(e.Line)
		}
		fmt.Fprintf(&b, "%s\t%s\t%s\t%s\t%s\t%s\n", e.Image, e.Rule, e.Location, line, orDash(e.Key), e.Judgment)
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// merge gives each finding of current the judgment of the same finding in
// old: exactly the same identity first, else the same loose identity (a
// moved line, another version of the package); else Unjudged.
func merge(old, current []Entry) []Entry {
	exact := map[string][]string{}
	loose := map[string]string{}
	for _, e := range old {
		exact[e.id()] = append(exact[e.id()], e.Judgment)
		if e.Judgment != Unjudged {
			loose[e.loose()] = e.Judgment
		}
	}
	out := make([]Entry, len(current))
	for i, e := range current {
		e.Judgment = Unjudged
		if js := exact[e.id()]; len(js) > 0 {
			e.Judgment, exact[e.id()] = js[0], js[1:]
		} else if j, ok := loose[e.loose()]; ok {
			e.Judgment = j
		}
		out[i] = e
	}
	return out
}

// Diff is what differs between the expectations and a scan.
type Diff struct {
	New, Lost []Entry
	// Loose counts the findings compared without line and version, in
	// files of packages built from a fallback version.
	Loose int
}

// compare returns the findings of got that want does not list and the
// entries of want that got lacks, as multisets. Findings in files of
// fallback (image path -> true) are compared by their loose identity.
func compare(want, got []Entry, fallback map[string]bool) Diff {
	key := func(e Entry) string {
		if fallback[e.outer()] {
			return "~" + e.loose()
		}
		return e.id()
	}
	var d Diff
	left := map[string][]Entry{}
	for _, e := range want {
		left[key(e)] = append(left[key(e)], e)
	}
	for _, e := range got {
		k := key(e)
		if strings.HasPrefix(k, "~") {
			d.Loose++
		}
		if es := left[k]; len(es) > 0 {
			left[k] = es[1:]
			continue
		}
		d.New = append(d.New, e)
	}
	for _, k := range sortedKeys(left) {
		d.Lost = append(d.Lost, left[k]...)
	}
	sortEntries(d.New)
	sortEntries(d.Lost)
	return d
}

// reportFinding is the part of peel's JSON report (peel-report/v2) the
// expectations use.
type reportFinding struct {
	Rule     string   `json:"rule"`
	Severity string   `json:"severity"`
	Location string   `json:"location"`
	Path     []string `json:"path"`
	Line     int      `json:"line"`
	Key      string   `json:"key"`
	Opens    []string `json:"opens"`
	Verified bool     `json:"verified"`
}

type report struct {
	Schema string `json:"schema"`
	Images []struct {
		Findings []reportFinding `json:"findings"`
	} `json:"images"`
}

// entriesOf turns a report's findings into entries of image.
func entriesOf(image string, fs []reportFinding) []Entry {
	var es []Entry
	for _, f := range fs {
		loc := strings.Join(f.Path, "!")
		if loc == "" { // the image config: "config Env NAME", "history[3] created_by"
			loc = f.Location
		}
		es = append(es, Entry{Image: image, Rule: f.Rule, Location: loc, Line: f.Line, Key: f.Key, Judgment: Unjudged})
	}
	return es
}

// readReport reads one peel JSON report with a single image.
func readReport(path string) ([]reportFinding, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if r.Schema != "peel-report/v2" || len(r.Images) != 1 {
		return nil, fmt.Errorf("%s: not a peel-report/v2 report of one image", path)
	}
	return r.Images[0].Findings, nil
}

// printCounts prints the findings of the expectations per image and rule,
// and per judgment, for a closing note's "before" and "after".
func printCounts(w io.Writer, path string) error {
	es, err := readExpectations(path)
	if err != nil {
		return err
	}
	type k struct{ image, what string }
	rules, kinds, classes := map[k]int{}, map[k]int{}, map[k]int{}
	totals := map[string]int{}
	for _, e := range es {
		rules[k{e.Image, e.Rule}]++
		kinds[k{e.Image, e.class()}]++
		classes[k{e.Image, e.Judgment}]++
		totals[e.Image]++
	}
	for _, im := range sortedKeys(totals) {
		fmt.Fprintf(w, "%s: %d findings\n", im, totals[im])
		printSorted(w, im, rules, func(x k) (string, string) { return x.image, x.what })
		fmt.Fprintln(w, "  by kind:")
		printSorted(w, im, kinds, func(x k) (string, string) { return x.image, x.what })
		fmt.Fprintln(w, "  by judgment:")
		printSorted(w, im, classes, func(x k) (string, string) { return x.image, x.what })
	}
	return nil
}

func printSorted[K comparable](w io.Writer, image string, m map[K]int, split func(K) (string, string)) {
	type row struct {
		name string
		n    int
	}
	var rows []row
	for x, n := range m {
		if im, name := split(x); im == image {
			rows = append(rows, row{name, n})
		}
	}
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].n != rows[j].n {
			return rows[i].n > rows[j].n
		}
		return rows[i].name < rows[j].name
	})
	for _, r := range rows {
		fmt.Fprintf(w, "  %6d  %s\n", r.n, r.name)
	}
}
