package main

import (
	"path/filepath"
	"reflect"
	"testing"
)

func TestCompareMerge(t *testing.T) {
	want := []Entry{
		{Image: "corpus", Rule: "config-secret", Location: "/a/paginators-1.json", Line: 4, Key: "input_token", Judgment: "false positive: field name"},
		{Image: "corpus", Rule: "private-key", Location: "/usr/share/java/x-1.2.jar!test/key.pem", Line: 1, Key: "RSA PRIVATE KEY", Judgment: "test key: x's tests"},
	}
	moved := Entry{Image: "corpus", Rule: "config-secret", Location: "/a/paginators-1.json", Line: 9, Key: "input_token", Judgment: Unjudged}
	bumped := Entry{Image: "corpus", Rule: "private-key", Location: "/usr/share/java/x-1.3.jar!test/key.pem", Line: 7, Key: "RSA PRIVATE KEY", Judgment: Unjudged}
	fresh := Entry{Image: "corpus", Rule: "url-credentials", Location: "/b.py", Line: 2, Key: "http://u", Judgment: Unjudged}

	// Exact comparison: a moved line is one new and one lost finding.
	d := compare(want, []Entry{moved, want[1], fresh}, nil)
	if len(d.New) != 2 || len(d.Lost) != 1 || d.Lost[0].Line != 4 {
		t.Fatalf("compare: new %v, lost %v", d.New, d.Lost)
	}
	// In a fallback package's file, line and version numbers do not count.
	d = compare(want, []Entry{want[0], bumped}, map[string]bool{"/usr/share/java/x-1.3.jar": true, "/usr/share/java/x-1.2.jar": true})
	if len(d.New) != 0 || len(d.Lost) != 0 || d.Loose != 1 {
		t.Fatalf("compare with fallback: %+v", d)
	}
	// merge keeps judgments exactly, then loosely; the rest is unjudged.
	got := merge(want, []Entry{moved, bumped, fresh})
	js := []string{got[0].Judgment, got[1].Judgment, got[2].Judgment}
	if !reflect.DeepEqual(js, []string{want[0].Judgment, want[1].Judgment, Unjudged}) {
		t.Fatalf("merge judgments: %q", js)
	}
	// Written and read back unchanged.
	file := filepath.Join(t.TempDir(), "e.tsv")
	if err := writeExpectations(file, got); err != nil {
		t.Fatal(err)
	}
	back, err := readExpectations(file)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, got) {
		t.Fatalf("round trip:\n%v\n%v", back, got)
	}
}

func TestUpstream(t *testing.T) {
	for in, want := range map[string]string{"10.1.60-1~deb12u1": "10.1.60", "1:7.0.1-1": "7.0.1", "1.29.27+repack-1": "1.29.27", "2.1.11-1": "2.1.11", "4.3.30-2": "4.3.30"} {
		if got := upstream(in); got != want {
			t.Errorf("upstream(%q) = %q, want %q", in, got, want)
		}
	}
}
