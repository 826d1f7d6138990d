package scanner_test

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/peelscan/peel/scanner"
)

// TestExcerpt: a finding in a text file carries the lines around it, the
// secret's places marked; long lines are cut around the secret without
// cutting through it; a secret that is not verbatim on its line gets no
// excerpt.
func TestExcerpt(t *testing.T) {
	dir := t.TempDir()
	long := strings.Repeat("x", 300)
	files := map[string]string{
		"a.properties": "# one\n# two\n# three\ndb.password=Zq8-excerpt-secret\n# five\n# six\n# seven\n",
		"b.properties": "db.password=Zq8-excerpt-secret\r\nnext=1\r\n",
		"c.conf":       "head=" + long + "\nDATABASE_URL=\"" + long + " postgres://app:Zq8-excerpt-secret@db:5432/x " + long + " postgres://app:Zq8-excerpt-secret@db/y\"\n",
		"d.properties": "db.password=Zq8\\u002dexcerpt\\u002dsecret\n", // unescaped by the parser: not verbatim
	}
	for n, s := range files {
		os.WriteFile(filepath.Join(dir, n), []byte(s), 0o644)
	}
	res, err := scanner.New(scanner.Options{}).ScanPath(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]*scanner.Excerpt{}
	for _, f := range res.Findings {
		got[filepath.Base(f.Path[0])] = f.Excerpt
	}
	check := func(name string, first int, lines []string) {
		t.Helper()
		ex := got[name]
		if ex == nil {
			t.Fatalf("%s: no excerpt", name)
		}
		if ex.First != first || !reflect.DeepEqual(ex.Lines, lines) {
			t.Errorf("%s: excerpt from %d %q, want from %d %q", name, ex.First, ex.Lines, first, lines)
		}
		for _, s := range ex.Spans {
			if ex.Lines[s.Line][s.Start:s.End] != "Zq8-excerpt-secret" {
				t.Errorf("%s: span %+v marks %q", name, s, ex.Lines[s.Line][s.Start:s.End])
			}
		}
	}
	check("a.properties", 2, []string{"# two", "# three", "db.password=Zq8-excerpt-secret", "# five", "# six"})
	if n := len(got["a.properties"].Spans); n != 1 {
		t.Errorf("a: %d spans", n)
	}
	check("b.properties", 1, []string{"db.password=Zq8-excerpt-secret", "next=1"})
	ex := got["c.conf"]
	if ex == nil {
		t.Fatal("c: no excerpt")
	}
	for i, l := range ex.Lines {
		if len(l) > scanner.ExcerptWidth+2*len("…")+len("Zq8-excerpt-secret") {
			t.Errorf("c: line %d is %d bytes", i, len(l))
		}
	}
	if hit := ex.Lines[1]; !strings.HasPrefix(hit, "…") || !strings.Contains(hit, "postgres://app:Zq8-excerpt-secret@db:5432/x") || !strings.HasSuffix(hit, "…") || len(ex.Spans) != 1 {
		t.Errorf("c: hit line %q, spans %+v", hit, ex.Spans)
	}
	if ex, ok := got["d.properties"]; !ok || ex != nil {
		t.Errorf("d: finding %v, excerpt %+v; want a finding without an excerpt", ok, ex)
	}
}
