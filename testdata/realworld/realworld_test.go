package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/peelscan/peel/internal/fixture"
)

// The tests scan what `go run ./testdata/realworld build` wrote (make
// realworld runs both) with the peel binary.
var (
	outDir  = flag.String("out", filepath.Join("..", "build", "realworld"), "the build directory of `realworld build`")
	peelBin = flag.String("peel", filepath.Join("..", "..", "bin", "peel"), "the peel binary to test")
	update  = flag.Bool("update", false, "rewrite expectations.tsv from this scan, keeping judgments; new findings are marked unjudged")
)

const expectationsFile = "expectations.tsv"

// scanned is one image's scan: its findings and peel's exit status.
type scanned struct {
	findings []reportFinding
	exit     int
}

var (
	scanMu sync.Mutex
	scans  = map[string]scanned{}
)

// images are the inputs the expectations cover: name -> peel argument.
func images() map[string]string {
	return map[string]string{
		"corpus": "oci:" + filepath.Join(*outDir, "corpus-oci") + ":" + corpusRef,
		"sts-v1": "oci:" + filepath.Join(*outDir, "sts-oci") + ":v1",
		"sts-v2": "oci:" + filepath.Join(*outDir, "sts-oci") + ":v2",
	}
}

// scan runs peel on the named image once per test binary.
func scan(t *testing.T, name string) scanned {
	t.Helper()
	scanMu.Lock()
	defer scanMu.Unlock()
	if s, ok := scans[name]; ok {
		return s
	}
	if _, err := os.Stat(*peelBin); err != nil {
		t.Fatalf("no peel binary at %s (make build): %v", *peelBin, err)
	}
	arg := images()[name]
	if _, err := os.Stat(strings.SplitN(arg, ":", 3)[1]); err != nil {
		t.Fatalf("%s is not built (make realworld builds it first): %v", name, err)
	}
	out := filepath.Join(*outDir, "report-"+name+".json")
	cmd := exec.Command(*peelBin, "scan", "-q", "--no-cache", "--fail-on", "low", "-f", "json", "-o", out, arg)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err := cmd.Run()
	exit := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		exit = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("peel scan %s: %v", arg, err)
	}
	if exit != 0 && exit != 1 {
		t.Fatalf("peel scan %s: exit status %d: %s", arg, exit, stderr.String())
	}
	fs, err := readReport(out)
	if err != nil {
		t.Fatal(err)
	}
	s := scanned{findings: fs, exit: exit}
	scans[name] = s
	return s
}

// readFallbacks returns the image paths of packages built from a fallback
// version (see fetchDebs), and a line per fallback for the log.
func readFallbacks(t *testing.T) (map[string]bool, []string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(*outDir, fallbacksFile))
	if err != nil {
		t.Fatalf("%v (make realworld writes it)", err)
	}
	files := map[string]bool{}
	var notes []string
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		fs := strings.Split(l, "\t")
		if len(fs) != 3 {
			continue
		}
		notes = append(notes, fmt.Sprintf("%s: pinned %s is gone from the mirror, built from %s", fs[0], fs[1], fs[2]))
		list, err := os.Open(filepath.Join(*outDir, "fallback-"+fs[0]+".txt"))
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(list)
		for sc.Scan() {
			files[sc.Text()] = true
		}
		list.Close()
	}
	return files, notes
}

// TestExpectations scans the corpus image and the STS pair and compares
// every finding with expectations.tsv: a new finding, a lost one or an
// unjudged entry fails.
func TestExpectations(t *testing.T) {
	var got []Entry
	for _, name := range sortedKeys(images()) {
		got = append(got, entriesOf(name, scan(t, name).findings)...)
	}
	old, err := readExpectations(expectationsFile)
	if err != nil && !(*update && errors.Is(err, os.ErrNotExist)) {
		t.Fatal(err)
	}
	if *update {
		merged := merge(old, got)
		if err := writeExpectations(expectationsFile, merged); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s: %d findings", expectationsFile, len(merged))
		old = merged
	} else {
		fallback, notes := readFallbacks(t)
		for _, n := range notes {
			t.Logf("WARNING: %s; its findings are compared without lines and version numbers", n)
		}
		d := compare(old, got, fallback)
		if len(d.New)+len(d.Lost) > 0 {
			var b strings.Builder
			for _, e := range d.New {
				fmt.Fprintf(&b, "+ %s\n", e.id())
			}
			for _, e := range d.Lost {
				fmt.Fprintf(&b, "- %s\t(%s)\n", e.id(), e.Judgment)
			}
			diff := filepath.Join(*outDir, "expectations.diff")
			os.WriteFile(diff, []byte(b.String()), 0o644)
			lines := strings.SplitAfter(b.String(), "\n")
			if len(lines) > 60 {
				lines = append(lines[:60], fmt.Sprintf("… %d more lines in %s\n", len(lines)-60, diff))
			}
			t.Errorf("peel's findings differ from %s: %d new (+), %d lost (-); if intended, make realworld UPDATE=1 and judge the new ones:\n%s",
				expectationsFile, len(d.New), len(d.Lost), strings.Join(lines, ""))
		}
	}
	var unjudged []string
	for _, e := range old {
		if e.Judgment == Unjudged || e.Judgment == "" {
			unjudged = append(unjudged, e.id())
		}
	}
	if len(unjudged) > 0 {
		if len(unjudged) > 40 {
			unjudged = append(unjudged[:40], fmt.Sprintf("… and %d more", len(unjudged)-40))
		}
		t.Errorf("%s: %d entries are unjudged; write what each is (false positive: WHY, test key: WHOSE, real secret: …):\n%s",
			expectationsFile, len(unjudged), strings.Join(unjudged, "\n"))
	}
	var counts strings.Builder
	if err := printCounts(&counts, expectationsFile); err == nil {
		t.Logf("findings per rule:\n%s", counts.String())
	}
}

// stsFinding is a finding the v1 image must have.
type stsFinding struct {
	rule, location string
	line           int
	key            string
}

// v1Wanted are v1's four findings: both keystore passwords in the jar's
// application.properties (each opening both keystores) and both keystores
// opened with them.
var v1Wanted = []stsFinding{
	{"config-secret", "/" + fixture.JarName + "!" + fixture.PropertiesPath, 3, "server.ssl.key-store-password"},
	{"config-secret", "/" + fixture.JarName + "!" + fixture.PropertiesPath, 6, "spring.security.oauth.jwt.keystore.password"},
	{"keystore-verified", fixture.KeystorePath, 0, ""},
	{"keystore-verified", fixture.JWTPath, 0, ""},
}

// TestFaithfulSTS checks the lesson on the pair built from real content:
// v1 exits 1 with exactly its four findings, v2 exits 0; any other finding
// fails, named with its judgment in expectations.tsv.
func TestFaithfulSTS(t *testing.T) {
	judged := map[string]string{}
	if es, err := readExpectations(expectationsFile); err == nil {
		for _, e := range es {
			judged[e.id()] = e.Judgment
		}
	}
	extra := func(t *testing.T, image string, fs []reportFinding) {
		var failed []string
		for _, f := range fs {
			e := entriesOf(image, []reportFinding{f})[0]
			j := judged[e.id()]
			desc := fmt.Sprintf("%s %s %s line %d key %q", f.Severity, f.Rule, e.Location, f.Line, f.Key)
			if j == "" {
				j = "not in " + expectationsFile
			}
			failed = append(failed, desc+" — "+j)
		}
		if len(failed) > 0 {
			t.Errorf("%s: %d finding(s) that must not be there:\n  %s", image, len(failed), strings.Join(failed, "\n  "))
		}
	}
	t.Run("v1", func(t *testing.T) {
		s := scan(t, "sts-v1")
		if s.exit != 1 {
			t.Errorf("exit status %d, want 1", s.exit)
		}
		var rest []reportFinding
		found := make([]bool, len(v1Wanted))
		for _, f := range s.findings {
			i := slices.IndexFunc(v1Wanted, func(w stsFinding) bool {
				return w.rule == f.Rule && w.location == strings.Join(f.Path, "!") && w.line == f.Line && w.key == f.Key
			})
			if i < 0 || found[i] {
				rest = append(rest, f)
				continue
			}
			found[i] = true
			w := v1Wanted[i]
			if f.Severity != "critical" || !f.Verified {
				t.Errorf("%s %s:%d: severity %s, verified %v; want critical and verified", w.rule, w.location, w.line, f.Severity, f.Verified)
			}
			if w.rule == "config-secret" && !slices.Equal(f.Opens, []string{fixture.KeystorePath, fixture.JWTPath}) {
				t.Errorf("%s:%d opens %v, want both keystores", w.location, w.line, f.Opens)
			}
		}
		for i, ok := range found {
			if !ok {
				w := v1Wanted[i]
				t.Errorf("missing: %s %s line %d key %q", w.rule, w.location, w.line, w.key)
			}
		}
		extra(t, "sts-v1", rest)
	})
	t.Run("v2", func(t *testing.T) {
		s := scan(t, "sts-v2")
		if s.exit != 0 {
			t.Errorf("exit status %d, want 0", s.exit)
		}
		extra(t, "sts-v2", s.findings)
	})
}
