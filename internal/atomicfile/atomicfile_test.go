package atomicfile

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestPrepareCommitDiscard(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "report.json")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := Prepare(path, func(w io.Writer) error { _, err := io.WriteString(w, "new"); return err })
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "old" {
		t.Errorf("target changed before Commit: %q", b)
	}
	if err := p.Commit(); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "new" {
		t.Errorf("after Commit: %q", b)
	}
	// A failed write leaves nothing behind and the target untouched.
	if _, err := Prepare(path, func(w io.Writer) error { io.WriteString(w, "half"); return errors.New("boom") }); err == nil {
		t.Fatal("want the write error")
	}
	p, _ = Prepare(path, func(w io.Writer) error { return nil })
	p.Discard()
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temp files left: %v", entries)
	}
	if b, _ := os.ReadFile(path); string(b) != "new" {
		t.Errorf("target after failures: %q", b)
	}
}

func writeString(s string) func(io.Writer) error {
	return func(w io.Writer) error { _, err := io.WriteString(w, s); return err }
}

func commit(t *testing.T, p *Pending, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Commit(); err != nil {
		t.Fatal(err)
	}
}

func perm(t *testing.T, path string) os.FileMode {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Mode().Perm()
}

// TestPermissions: a new file gets the umask's permissions, a replaced one
// keeps its own, and a private one is 0600 at most either way.
func TestPermissions(t *testing.T) {
	old := syscall.Umask(0o027)
	defer syscall.Umask(old)
	dir := t.TempDir()
	fresh := filepath.Join(dir, "new.json")
	p, err := Prepare(fresh, writeString("x"))
	commit(t, p, err)
	if m := perm(t, fresh); m != 0o640 {
		t.Errorf("new file %v, want 0640 (umask 027)", m)
	}
	kept := filepath.Join(dir, "kept.json")
	os.WriteFile(kept, []byte("old"), 0o600)
	os.Chmod(kept, 0o604)
	p, err = Prepare(kept, writeString("x"))
	commit(t, p, err)
	if m := perm(t, kept); m != 0o604 {
		t.Errorf("replaced file %v, want its own 0604", m)
	}
	for name, before := range map[string]os.FileMode{"private-new.json": 0, "private-old.json": 0o644} {
		path := filepath.Join(dir, name)
		if before != 0 {
			os.WriteFile(path, []byte("old"), before)
		}
		p, err := PreparePrivate(path, writeString("secret"))
		commit(t, p, err)
		if m := perm(t, path); m != 0o600 {
			t.Errorf("%s: %v, want 0600", name, m)
		}
	}
	cache := filepath.Join(dir, "cache.json")
	p, err = PrepareMode(cache, 0o600, writeString("x"))
	commit(t, p, err)
	if m := perm(t, cache); m != 0o600 {
		t.Errorf("PrepareMode: %v", m)
	}
}

// TestNotRegularIsWrittenInPlace: a character device, a FIFO and a link
// into /proc are written into, never replaced; a directory and a block
// device are refused.
func TestNotRegularIsWrittenInPlace(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mknod needs root")
	}
	dir := t.TempDir()
	null := filepath.Join(dir, "null")
	if err := syscall.Mknod(null, syscall.S_IFCHR|0o666, 1<<8|3); err != nil {
		t.Fatal(err)
	}
	p, err := Prepare(null, writeString("report"))
	commit(t, p, err)
	if st, _ := os.Lstat(null); st.Mode()&os.ModeCharDevice == 0 {
		t.Errorf("the device became %v", st.Mode())
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("files beside the device: %v", entries)
	}

	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	got := make(chan string)
	go func() {
		f, err := os.Open(fifo) // waits for the writer
		if err != nil {
			got <- err.Error()
			return
		}
		b, _ := io.ReadAll(f)
		f.Close()
		got <- string(b)
	}()
	p, err = Prepare(fifo, writeString("report through the FIFO"))
	commit(t, p, err)
	if s := <-got; s != "report through the FIFO" {
		t.Errorf("the reader got %q", s)
	}
	if st, _ := os.Lstat(fifo); st.Mode()&os.ModeNamedPipe == 0 {
		t.Errorf("the FIFO became %v", st.Mode())
	}
	// No reader: the wait ends with the context.
	p, err = Prepare(fifo, writeString("nobody reads"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := p.CommitContext(ctx); err == nil || !strings.Contains(err.Error(), "no reader opened the FIFO") {
		t.Errorf("FIFO without a reader: %v", err)
	}

	// A symbolic link to a regular file: the file is replaced, the link stays.
	target := filepath.Join(dir, "real.json")
	os.WriteFile(target, []byte("old"), 0o644)
	link := filepath.Join(dir, "link.json")
	os.Symlink("real.json", link)
	p, err = Prepare(link, writeString("new"))
	commit(t, p, err)
	if st, _ := os.Lstat(link); st.Mode()&os.ModeSymlink == 0 {
		t.Error("the link was replaced")
	}
	if b, _ := os.ReadFile(target); string(b) != "new" {
		t.Errorf("through the link: %q", b)
	}

	block := filepath.Join(dir, "block")
	if err := syscall.Mknod(block, syscall.S_IFBLK|0o600, 7<<8|200); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{dir, block} {
		if _, err := Prepare(bad, writeString("x")); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

// TestCheck: a report's path is judged before anything is rendered: a
// new file in a writable directory and a device are fine; a missing
// directory, a read-only one and a directory as the file are not; nothing
// is left behind.
func TestCheck(t *testing.T) {
	dir := t.TempDir()
	ro := filepath.Join(dir, "ro")
	os.Mkdir(ro, 0o500)
	for _, tc := range []struct {
		path, want string
	}{
		{filepath.Join(dir, "new.json"), ""},
		{"/dev/null", ""},
		{filepath.Join(dir, "no", "such", "r.json"), "no such directory " + filepath.Join(dir, "no", "such")},
		{dir, "is a directory"},
	} {
		err := Check(tc.path)
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("Check(%s) = %v, want %q", tc.path, err, tc.want)
		}
	}
	if os.Geteuid() != 0 { // root writes anywhere
		if err := Check(filepath.Join(ro, "r.json")); err == nil || !strings.Contains(err.Error(), "cannot create a file in") {
			t.Errorf("read-only directory: %v", err)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("left behind: %v", entries)
	}
}
