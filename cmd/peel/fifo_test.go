package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestFIFOInputsDoNotBlock: a FIFO given as an input (bare, dir:, or as
// an image archive) is refused at once, exit 2, one line; a FIFO inside a
// scanned directory or an OCI layout's blobs is never opened.
func TestFIFOInputsDoNotBlock(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "input.tar")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, input := range []string{fifo, "dir:" + fifo, "docker-archive:" + fifo, "oci-archive:" + fifo, "oci:" + fifo} {
		start := time.Now()
		r := peel(t, "scan", "--no-cache", "--timeout", "20s", input)
		if took := time.Since(start); took > 5*time.Second {
			t.Errorf("%s: took %s", input, took)
		}
		if r.code != 2 || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, "a FIFO, not a regular file or a directory: refused") {
			t.Errorf("%s: exit %d %q", input, r.code, r.stderr)
		}
	}

	// In a directory: skipped, the rest scanned.
	tree := filepath.Join(dir, "tree")
	os.Mkdir(tree, 0o755)
	syscall.Mkfifo(filepath.Join(tree, "app.properties"), 0o600)
	os.WriteFile(filepath.Join(tree, "db.properties"), []byte("db.password=fifo-test-pw-6d2c\n"), 0o644)
	r := peel(t, "scan", "--no-cache", "--timeout", "20s", "-f", "json", "dir:"+tree)
	if rep := decode(t, r); r.code != 1 || len(rep.Images[0].Findings) != 1 {
		t.Errorf("dir with a FIFO: exit %d %s", r.code, r.stderr)
	}

	// In an OCI layout's blobs: refused before go-containerregistry opens it.
	layout := filepath.Join(dir, "layout")
	if out, err := exec.Command("cp", "-r", fx("sts-v2-oci"), layout).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	blobs, _ := filepath.Glob(filepath.Join(layout, "blobs", "sha256", "*"))
	var biggest string
	var size int64
	for _, b := range blobs {
		if st, _ := os.Stat(b); st.Size() > size {
			biggest, size = b, st.Size()
		}
	}
	os.Remove(biggest)
	syscall.Mkfifo(biggest, 0o600)
	start := time.Now()
	r = peel(t, "scan", "--no-cache", "--timeout", "20s", "oci:"+layout)
	if r.code != 2 || !strings.Contains(r.stderr, "not an OCI layout: "+biggest+": a FIFO") || time.Since(start) > 5*time.Second {
		t.Errorf("layout with a FIFO blob: exit %d %q in %s", r.code, r.stderr, time.Since(start))
	}
}
