package scanner_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/peelscan/peel/internal/fixture"
	"github.com/peelscan/peel/scanner"
)

// TestLayerLinks: a link named like a config file is read with that format
// when its target is a text file of the same layer, after the link or
// among the last small text files before it; anything else is reported as
// not read under the link's name. The target's own findings stay at the
// target.
func TestLayerLinks(t *testing.T) {
	props := func(pw string) []byte {
		return []byte("server.port=8080\nspring.datasource.password=" + pw + "\nurl=postgres://app:link-url-pw@db/app\n")
	}
	// Small text files no format reads, past the cache's bound in all.
	var filler []fixture.File
	for i := 0; i < 20; i++ {
		filler = append(filler, fixture.File{Name: fmt.Sprintf("c/filler-%02d.txt", i), Data: bytes.Repeat([]byte("plain words of no interest\n"), 60<<10/27)})
	}
	layer := fixture.Tar(append(filler,
		// Target first, link after: from the cache.
		fixture.File{Name: "a/early.conf", Data: props("link-early-pw")},
		fixture.File{Name: "b/application.properties", Symlink: "../a/early.conf"},
		// Target first, then more than the cache holds, then the link.
		fixture.File{Name: "b/evicted.conf", Data: props("link-evicted-pw")},
		fixture.File{Name: "d/application.properties", Symlink: "/b/evicted.conf"},
		// A target too large for the cache, before and after its link.
		fixture.File{Name: "b/large.conf", Data: append(props("link-large-pw"), bytes.Repeat([]byte("# padding\n"), 8<<10)...)},
		fixture.File{Name: "b/large.properties", HardLink: "b/large.conf"},
		fixture.File{Name: "b/large2.properties", Symlink: "/e/large2.conf"},
		fixture.File{Name: "e/large2.conf", Data: append(props("link-large2-pw"), bytes.Repeat([]byte("# padding\n"), 8<<10)...)},
		// A link to a link, a link to a binary file, a dangling link.
		fixture.File{Name: "b/chain.yml", Symlink: "/b/application.properties"},
		fixture.File{Name: "b/binary.properties", Symlink: "/e/blob.bin"},
		fixture.File{Name: "e/blob.bin", Data: fixture.Binary("elf", "link-binary", 1024)},
		fixture.File{Name: "b/dangling.properties", Symlink: "/nowhere/conf"},
	)...)
	img := mustImage(t, fixture.Image{Layers: []fixture.Layer{{Tar: layer, CreatedBy: "COPY links"}}}.Build)
	res := scanImage(t, img, scanner.Options{})
	var got []string
	for _, f := range res.Findings {
		got = append(got, f.Location()+" "+f.RuleID+" "+f.Secret)
	}
	compareSets(t, got, []string{
		"/b/application.properties:2 config-secret link-early-pw",
		"/b/large2.properties:2 config-secret link-large2-pw",
		"/a/early.conf:3 url-credentials link-url-pw",
		"/b/evicted.conf:3 url-credentials link-url-pw",
		"/b/large.conf:3 url-credentials link-url-pw",
		"/e/large2.conf:3 url-credentials link-url-pw",
	})
	var incomplete []string
	for _, in := range res.Incomplete {
		incomplete = append(incomplete, strings.Join(in.Path, "!")+": "+in.Reason[:strings.IndexByte(in.Reason, '(')])
	}
	compareSets(t, incomplete, []string{
		"/d/application.properties: a link to /b/evicted.conf: not read as properties ",
		"/b/large.properties: a link to /b/large.conf: not read as properties ",
		"/b/chain.yml: a link to /b/application.properties: not read as yaml ",
		"/b/binary.properties: a link to /e/blob.bin: not read as properties ",
		"/b/dangling.properties: a link to /nowhere/conf: not read as properties ",
	})
	// One answer per input.
	again := scanImage(t, img, scanner.Options{})
	if fmt.Sprint(summarize(again.Findings), again.Incomplete) != fmt.Sprint(summarize(res.Findings), res.Incomplete) {
		t.Error("a second scan of the same image differs")
	}
}

// TestDirLinks: in a directory scan, a link named like a config file is read
// with that format when it resolves to a file inside the directory, and is
// not followed out of it.
func TestDirLinks(t *testing.T) {
	root, outside := t.TempDir(), t.TempDir()
	write := func(p, s string) {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(root, "etc/conf.v3"), "spring.datasource.password=dir-link-pw\n")
	write(filepath.Join(outside, "host.conf"), "spring.datasource.password=outside-pw\n")
	for link, target := range map[string]string{
		"app/application.properties": "../etc/conf.v3",
		"app/outside.properties":     filepath.Join(outside, "host.conf"),
	} {
		p := filepath.Join(root, link)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
	}
	res, err := scanner.New(scanner.Options{}).ScanPath(t.Context(), root)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range res.Findings {
		got = append(got, strings.TrimPrefix(f.Location(), filepath.ToSlash(root))+" "+f.Secret)
	}
	compareSets(t, got, []string{"/app/application.properties:1 dir-link-pw"})
	if len(res.Incomplete) != 1 || !strings.HasSuffix(res.Incomplete[0].Path[0], "/app/outside.properties") || !strings.Contains(res.Incomplete[0].Reason, "outside the scanned directory: not followed") {
		t.Errorf("incomplete %+v", res.Incomplete)
	}
}
