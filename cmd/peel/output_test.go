package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/olekukonko/tablewriter/pkg/twwidth"

	"github.com/peelscan/peel/scanner"
)

// frames splits what the progress line wrote into its redraws.
func frames(out string) []string {
	var fs []string
	for _, f := range strings.Split(out, "\r") {
		f = strings.TrimSuffix(f, "\033[K")
		if f != "" {
			fs = append(fs, f)
		}
	}
	return fs
}

// TestProgressLine: the totals come from the plan before a byte is read;
// every frame fits the width, whatever the name's length; cached layers
// count as done; a dir: scan shows files and bytes; the time left shows
// once the rate is known.
func TestProgressLine(t *testing.T) {
	var buf bytes.Buffer
	now := time.Unix(1000, 0)
	width := 80
	p := newProgressTo(&buf, func() int { return width })
	p.now = func() time.Time { return now }
	p.start("registry.test/app:1", 1, 1)
	p.target(&scanner.Target{Input: "registry.test/app:1", Kind: scanner.KindRegistry}, 1, 1, nil)
	p.Plan([]int64{4 << 20, 4 << 20, 2 << 20})
	if f := frames(buf.String()); !strings.Contains(f[len(f)-1], "registry.test/app:1  0/3 layers  0.0 KiB of 10.0 MiB  0%") {
		t.Errorf("planned frame %q", f[len(f)-1])
	}
	now = now.Add(time.Second)
	p.Layer(1, 3, 1<<20, 4<<20, false)
	now = now.Add(2 * time.Second)
	p.Layer(1, 3, 4<<20, 4<<20, true)
	p.Cached(3, 3)
	now = now.Add(time.Second)
	p.Layer(2, 3, 2<<20, 4<<20, false)
	last := frames(buf.String())
	if f := last[len(last)-1]; !strings.Contains(f, "1/3") && !strings.Contains(f, "2/3 layers (1 cached)  6.0 MiB of 8.0 MiB  75%") || !strings.Contains(f, "ETA") {
		t.Errorf("frame %q", f)
	}
	p.stop()
	if !strings.HasSuffix(buf.String(), "\r\033[K") {
		t.Errorf("not cleared: %q", buf.String())
	}

	// Narrow and with a long name: every frame fits; the name is cut in
	// its middle before the counts go.
	for _, width = range []int{20, 40, 80, 200} {
		buf.Reset()
		long := strings.Repeat("very-long-registry-name.example/", 8) + "app:1"
		p.start(long, 2, 3)
		p.target(&scanner.Target{Input: long, Kind: scanner.KindOCI}, 2, 3, nil)
		p.Plan([]int64{1 << 30, -1})
		p.Layer(1, 2, 1<<29, 1<<30, false)
		p.stop()
		for _, f := range frames(buf.String()) {
			if w := twwidth.Width(f); w > width-1 {
				t.Errorf("width %d: a %d-column frame %q", width, w, f)
			}
			if !strings.HasPrefix(f, "[2/3] ver") || width >= 80 && !strings.Contains(f, "app:1  ") {
				t.Errorf("width %d: frame %q", width, f)
			}
		}
	}

	// A dir: the files and bytes read, of those counted alongside.
	dir := t.TempDir()
	for _, n := range []string{"a", "b", "skip.me"} {
		os.WriteFile(filepath.Join(dir, n), make([]byte, 1000), 0o644)
	}
	buf.Reset()
	width = 120
	p.start("dir:"+dir, 1, 1)
	p.target(&scanner.Target{Input: "dir:" + dir, Kind: scanner.KindDir, Path: dir}, 1, 1, scanner.SkipFunc([]string{"**/skip.*"}, nil))
	p.stopCounting() // the count finished (or was cut short): wait for it
	now = now.Add(time.Second)
	p.Files(1, 1000)
	p.finish(&scanner.Result{Kind: scanner.KindDir, Stats: scanner.Stats{Files: 2, Bytes: 2000}})
	p.stop()
	f := frames(buf.String())
	if !regexp.MustCompile(`  1 file, 1.0 KiB  `).MatchString(strings.Join(f, "\n")) || !strings.Contains(f[len(f)-1], "2 files, 2.0 KiB  of 2 files, 2.0 KiB  100%") {
		t.Errorf("dir frames %q", f)
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
		format    string
		formatSet bool
		values    []string
		want      string // "" when an error is wanted
	}{
		{"table", false, nil, "table>stdout"},
		{"JSON", true, nil, "json>stdout"}, // any case
		{"json", false, []string{"r.json"}, "json>r.json"},
		{"table", false, []string{"sarif=p.sarif"}, "table>stdout sarif>p.sarif"},
		{"table", false, []string{"SARIF=p.sarif"}, "table>stdout sarif>p.sarif"},
		{"table", false, []string{"sarif=p.sarif", "r.txt", "json=-"}, "sarif>p.sarif table>r.txt json>stdout"},
		{"table", false, []string{"json=-"}, "json>stdout"}, // instead of the table
		{"table", false, []string{"json=/dev/stdout", "sarif=x"}, "json>stdout sarif>x"},
		{"json", true, []string{"json=-"}, "json>stdout"},
		{"sarif", true, []string{"json=-"}, ""},   // --format and FORMAT=- both on stdout
		{"table", false, []string{"a=b.txt"}, ""}, // an unknown format, not a file name
		{"table", false, []string{"yaml=x.yaml"}, ""},
		{"table", false, []string{"jsno=out.json"}, ""},
		{"table", false, []string{"./a=b.txt"}, "table>./a=b.txt"}, // a file named so
		{"table", false, []string{"json=-", "sarif=-"}, ""},
		{"table", false, []string{"json="}, ""},
		{"xml", false, nil, ""},
	} {
		outs, err := parseOutputs(tc.format, tc.formatSet, tc.values)
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
