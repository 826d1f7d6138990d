package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

func TestProgressLine(t *testing.T) {
	var buf bytes.Buffer
	p := &progressLine{w: &buf}
	p.start("registry.test/app:1")
	p.Layer(1, 2, 1<<20, 4<<20, false)
	if !strings.Contains(buf.String(), "registry.test/app:1: 0/2 layers, 1.0 MiB of 4.0 MiB | layer 1: 1.0 MiB of 4.0 MiB") {
		t.Errorf("per-layer progress: %q", buf.String())
	}
	p.Layer(2, 2, 2<<20, 4<<20, true)
	p.Layer(1, 2, 4<<20, 4<<20, true)
	out := buf.String()
	if !strings.Contains(out, "registry.test/app:1: 2/2 layers, 6.0 MiB of 8.0 MiB") {
		t.Errorf("progress output %q", out)
	}
	// Unknown sizes show bytes read only.
	buf.Reset()
	p.start("x.tar")
	p.Layer(1, 1, 3<<20, -1, true)
	if !strings.Contains(buf.String(), "x.tar: 1/1 layers, 3.0 MiB\n") && strings.Contains(buf.String(), " of ") {
		t.Errorf("unknown total: %q", buf.String())
	}
}

func TestNoProgressOffTerminal(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "stderr")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if newProgress(f, false) != nil || newProgress(os.Stderr, true) != nil {
		t.Error("progress on a file, or with --quiet")
	}
}

func TestParseOutputs(t *testing.T) {
	for _, tc := range []struct {
		format string
		values []string
		want   string // "" when an error is wanted
	}{
		{"table", nil, "table>stdout"},
		{"json", []string{"r.json"}, "json>r.json"},
		{"table", []string{"sarif=p.sarif"}, "table>stdout sarif>p.sarif"},
		{"table", []string{"sarif=p.sarif", "r.txt", "json=-"}, "sarif>p.sarif table>r.txt json>stdout"},
		{"table", []string{"a=b.txt"}, "table>a=b.txt"},    // not a format: a file name
		{"table", []string{"sarif=p.sarif", "json=-"}, ""}, // the table and json both on stdout
		{"table", []string{"json="}, ""},
		{"xml", nil, ""},
	} {
		outs, err := parseOutputs(tc.format, tc.values)
		if tc.want == "" {
			if err == nil {
				t.Errorf("parseOutputs(%s, %q): want an error", tc.format, tc.values)
			}
			continue
		}
		var got []string
		for _, o := range outs {
			f := o.file
			if f == "" {
				f = "stdout"
			}
			got = append(got, o.format+">"+f)
		}
		if err != nil || strings.Join(got, " ") != tc.want {
			t.Errorf("parseOutputs(%s, %q) = %v, %v; want %s", tc.format, tc.values, got, err, tc.want)
		}
	}
}
